/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* An open-addressing hash map from a two-word key to a pointer. Used for the
 * process table, keyed by (pid, start time) so that pid reuse never merges
 * two processes. Values are not owned. */

typedef struct HashKey {
        uint64_t a, b;
} HashKey;

typedef struct Hashmap Hashmap;

Hashmap *hashmap_new(void);
Hashmap *hashmap_free(Hashmap *h);
/* Returns 0, -EEXIST if the key is present (the value is left alone), -ENOMEM. */
int hashmap_put(Hashmap *h, HashKey key, void *value);
void *hashmap_get(const Hashmap *h, HashKey key);
void *hashmap_remove(Hashmap *h, HashKey key);
size_t hashmap_size(const Hashmap *h);

/* Iterate: start with *state = 0; returns 0 when done. */
int hashmap_iterate(const Hashmap *h, size_t *state, HashKey *ret_key, void **ret_value);
