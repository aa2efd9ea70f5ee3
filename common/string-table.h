/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Enum ↔ name lookups made from one table, in the manner of systemd's
 * DEFINE_STRING_TABLE_LOOKUP. For an enum
 *
 *     typedef enum IdlePolicy { IDLE_POLICY_SEPARATE, ..., _IDLE_POLICY_MAX,
 *                               _IDLE_POLICY_INVALID = -1 } IdlePolicy;
 *
 * write the names, one per value, in an unsized table named NAME_table:
 *
 *     static const char *const idle_policy_table[] = {
 *             [IDLE_POLICY_SEPARATE] = "separate", ...
 *     };
 *     DEFINE_STRING_TABLE_LOOKUP(idle_policy, IdlePolicy, IDLE_POLICY);
 *
 * which defines
 *
 *     const char *idle_policy_to_string(IdlePolicy i);  (NULL when out of range)
 *     IdlePolicy idle_policy_from_string(const char *s); (_IDLE_POLICY_INVALID when
 *                                                          unknown or NULL)
 *
 * The third argument is the enum's upper-case prefix: the table must have
 * exactly _PREFIX_MAX entries (checked at compile time, so a value added to the
 * enum without a name does not build), and from_string returns
 * _PREFIX_INVALID. Declare the functions in the header by hand. The _TO_STRING
 * and _FROM_STRING variants define one direction; the PRIVATE ones are static. */

#include <string.h>

#include "cleanup.h"

/* Each definition ends with this check, so that the caller's ';' ends a
 * declaration rather than standing alone. */
#define _STRING_TABLE_CHECK(name, UPPER)                                                        \
        _Static_assert(ELEMENTSOF(name##_table) == (size_t) _##UPPER##_MAX,                     \
                       #name "_table[] must have one name per value below _" #UPPER "_MAX")

#define _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, Type, UPPER, scope)                         \
        scope const char *name##_to_string(Type i) {                                            \
                if ((long) i < 0 || (size_t) i >= ELEMENTSOF(name##_table))                     \
                        return NULL;                                                            \
                return name##_table[i];                                                         \
        }                                                                                       \
        _STRING_TABLE_CHECK(name, UPPER)

#define _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, Type, UPPER, scope)                       \
        scope Type name##_from_string(const char *s) {                                          \
                if (!s)                                                                         \
                        return _##UPPER##_INVALID;                                              \
                for (size_t i = 0; i < ELEMENTSOF(name##_table); i++)                           \
                        if (name##_table[i] && strcmp(name##_table[i], s) == 0)                 \
                                return (Type) i;                                                \
                return _##UPPER##_INVALID;                                                      \
        }                                                                                       \
        _STRING_TABLE_CHECK(name, UPPER)

#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, Type, UPPER) \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, Type, UPPER, )
#define DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, Type, UPPER) \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, Type, UPPER, )
#define DEFINE_STRING_TABLE_LOOKUP(name, Type, UPPER)                     \
        DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, Type, UPPER);          \
        DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, Type, UPPER)

#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP_TO_STRING(name, Type, UPPER) \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, Type, UPPER, static __attribute__((unused)))
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP_FROM_STRING(name, Type, UPPER) \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, Type, UPPER, static __attribute__((unused)))
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP(name, Type, UPPER)                     \
        DEFINE_PRIVATE_STRING_TABLE_LOOKUP_TO_STRING(name, Type, UPPER);          \
        DEFINE_PRIVATE_STRING_TABLE_LOOKUP_FROM_STRING(name, Type, UPPER)
