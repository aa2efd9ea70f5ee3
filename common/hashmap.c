/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hashmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct Entry {
        HashKey key;
        void *value;
        uint8_t state; /* 0 empty, 1 used, 2 deleted */
} Entry;

struct Hashmap {
        Entry *entries;
        size_t capacity; /* power of two */
        size_t size;
        size_t tombstones;
};

static uint64_t hash_key(HashKey k) {
        /* splitmix64 finaliser over both words */
        uint64_t x = k.a * UINT64_C(0x9E3779B97F4A7C15) ^ (k.b + UINT64_C(0xBF58476D1CE4E5B9));
        x ^= x >> 30;
        x *= UINT64_C(0xBF58476D1CE4E5B9);
        x ^= x >> 27;
        x *= UINT64_C(0x94D049BB133111EB);
        x ^= x >> 31;
        return x;
}

static bool key_eq(HashKey x, HashKey y) {
        return x.a == y.a && x.b == y.b;
}

Hashmap *hashmap_new(void) {
        Hashmap *h = calloc(1, sizeof(*h));
        if (!h)
                return NULL;
        h->capacity = 64;
        h->entries = calloc(h->capacity, sizeof(Entry));
        if (!h->entries) {
                free(h);
                return NULL;
        }
        return h;
}

Hashmap *hashmap_free(Hashmap *h) {
        if (!h)
                return NULL;
        free(h->entries);
        free(h);
        return NULL;
}

static Entry *find(const Hashmap *h, HashKey key) {
        size_t mask = h->capacity - 1;
        size_t i = hash_key(key) & mask;
        for (size_t n = 0; n < h->capacity; n++, i = (i + 1) & mask) {
                Entry *e = &h->entries[i];
                if (e->state == 0)
                        return NULL;
                if (e->state == 1 && key_eq(e->key, key))
                        return e;
        }
        return NULL;
}

static int resize(Hashmap *h, size_t capacity) {
        Entry *old = h->entries;
        size_t old_cap = h->capacity;
        Entry *n = calloc(capacity, sizeof(Entry));
        if (!n)
                return -ENOMEM;
        h->entries = n;
        h->capacity = capacity;
        h->tombstones = 0;
        for (size_t i = 0; i < old_cap; i++) {
                if (old[i].state != 1)
                        continue;
                size_t j = hash_key(old[i].key) & (capacity - 1);
                while (n[j].state == 1)
                        j = (j + 1) & (capacity - 1);
                n[j] = old[i];
        }
        free(old);
        return 0;
}

int hashmap_put(Hashmap *h, HashKey key, void *value) {
        if (find(h, key))
                return -EEXIST;
        if ((h->size + h->tombstones + 1) * 4 > h->capacity * 3) {
                size_t cap = h->capacity;
                if ((h->size + 1) * 2 > cap)
                        cap *= 2;
                int r = resize(h, cap);
                if (r < 0)
                        return r;
        }
        size_t mask = h->capacity - 1;
        size_t i = hash_key(key) & mask;
        while (h->entries[i].state == 1)
                i = (i + 1) & mask;
        if (h->entries[i].state == 2)
                h->tombstones--;
        h->entries[i] = (Entry) { .key = key, .value = value, .state = 1 };
        h->size++;
        return 0;
}

void *hashmap_get(const Hashmap *h, HashKey key) {
        Entry *e = find(h, key);
        return e ? e->value : NULL;
}

void *hashmap_remove(Hashmap *h, HashKey key) {
        Entry *e = find(h, key);
        void *v;
        if (!e)
                return NULL;
        v = e->value;
        e->state = 2;
        e->value = NULL;
        h->size--;
        h->tombstones++;
        return v;
}

size_t hashmap_size(const Hashmap *h) {
        return h ? h->size : 0;
}

int hashmap_iterate(const Hashmap *h, size_t *state, HashKey *ret_key, void **ret_value) {
        for (size_t i = *state; i < h->capacity; i++) {
                if (h->entries[i].state != 1)
                        continue;
                if (ret_key)
                        *ret_key = h->entries[i].key;
                if (ret_value)
                        *ret_value = h->entries[i].value;
                *state = i + 1;
                return 1;
        }
        *state = h->capacity;
        return 0;
}
