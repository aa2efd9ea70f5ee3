/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Least privilege. Called once, from manager_start(), after BPF is loaded,
 * the energy counters and the database are open, and before any thread is
 * started (capabilities are per thread).
 *
 * Keeps only the capabilities in keep (a mask of 1 << CAP_*) in the
 * permitted and effective sets, clears the inheritable and ambient sets,
 * drops the rest of the bounding set where allowed (needs CAP_SETPCAP,
 * skipped otherwise), and sets PR_SET_NO_NEW_PRIVS. When user is set and
 * that user exists, switches to it first (setresgid/setresuid with
 * PR_SET_KEEPCAPS so the kept capabilities survive); a user that does not
 * exist is an error. Logs its errors and what it kept. */
int privileges_drop(const char *user, uint64_t keep);

/* The capabilities jouled keeps by default after start:
 *   CAP_SYS_PTRACE       reading /proc/PID/exe of other users' processes
 *                        (ptrace(2) itself is blocked by the unit's SystemCallFilter=)
 *   CAP_DAC_READ_SEARCH  re-reading powercap energy_uj (mode 0400 root) each
 *                        interval, only when a RAPL source is in use and we
 *                        run as another user than root. */
uint64_t privileges_default_keep(bool rapl_in_use, bool switching_user);

/* Effective capabilities of this thread (for tests and logs). */
int privileges_get_effective(uint64_t *ret);
