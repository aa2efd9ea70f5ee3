/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* How the BPF tracker reads CPU time (TrackerConfig.accounting, [Daemon]
 * TrackerAccounting=, --tracker-accounting): a small header of its own, so
 * the configuration parses the setting without the tracker's API. */

#define TRACKER_ACCOUNTING_AUTO       0
#define TRACKER_ACCOUNTING_ITERATOR   1
#define TRACKER_ACCOUNTING_PER_SWITCH 2
/* "auto", "iterator", "per-switch" ↔ TRACKER_ACCOUNTING_*; -EINVAL if unknown. */
int tracker_accounting_from_string(const char *s);
const char *tracker_accounting_to_string(int a);
