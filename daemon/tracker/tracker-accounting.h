/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* How the BPF tracker reads CPU time (TrackerConfig.accounting, [Daemon]
 * TrackerAccounting=, --tracker-accounting): a small header of its own, so
 * the configuration parses the setting without the tracker's API. */

#include <errno.h>

/* How CPU time is read (BPF only). AUTO picks, round by round, the cheaper
 * of walking every task once per interval (cost grows with the number of
 * tasks) and counting at each context switch (cost grows with the switch
 * rate), and leaves per-switch counting within a few milliseconds when
 * switches turn frequent. */
typedef enum TrackerAccounting {
        TRACKER_ACCOUNTING_AUTO,
        TRACKER_ACCOUNTING_ITERATOR,
        TRACKER_ACCOUNTING_PER_SWITCH,
        _TRACKER_ACCOUNTING_MAX,
        _TRACKER_ACCOUNTING_INVALID = -EINVAL,
} TrackerAccounting;

/* "auto", "iterator", "per-switch" ↔ TRACKER_ACCOUNTING_*; -EINVAL if unknown. */
TrackerAccounting tracker_accounting_from_string(const char *s);
const char *tracker_accounting_to_string(TrackerAccounting a);
