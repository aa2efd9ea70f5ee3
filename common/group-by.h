/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <string.h>

/* How rows of processes are grouped: by joulectl report, top and the HTML
 * report, and by the store's queries. Kernel threads form one group of their
 * own, "[kernel]", under every grouping but process. */
typedef enum GroupBy {
        GROUP_BY_PROCESS,
        GROUP_BY_COMM,
        GROUP_BY_UNIT,
        GROUP_BY_USER,
        GROUP_BY_SLICE,
        GROUP_BY_CONTAINER,
        _GROUP_BY_MAX,
        _GROUP_BY_INVALID = -1,
} GroupBy;

static inline const char *group_by_to_string(GroupBy b) {
        static const char *const table[_GROUP_BY_MAX] = {
                [GROUP_BY_PROCESS] = "process",
                [GROUP_BY_COMM] = "comm",
                [GROUP_BY_UNIT] = "unit",
                [GROUP_BY_USER] = "user",
                [GROUP_BY_SLICE] = "slice",
                [GROUP_BY_CONTAINER] = "container",
        };
        return b >= 0 && b < _GROUP_BY_MAX ? table[b] : NULL;
}

static inline GroupBy group_by_from_string(const char *s) {
        for (size_t i = 0; s && i < _GROUP_BY_MAX; i++)
                if (strcmp(s, group_by_to_string((GroupBy) i)) == 0)
                        return (GroupBy) i;
        return _GROUP_BY_INVALID;
}
