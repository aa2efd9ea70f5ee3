/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hashmap.h"

static void test_put_get_remove(void **state) {
        Hashmap *h = hashmap_new();
        static int values[20000];

        assert_non_null(h);
        for (uint64_t i = 0; i < 20000; i++)
                assert_int_equal(hashmap_put(h, (HashKey) { i, i * 1000 }, &values[i]), 0);
        assert_int_equal(hashmap_size(h), 20000);
        /* Same pid, other start time: another key (pid reuse). */
        assert_null(hashmap_get(h, (HashKey) { 5, 1 }));
        assert_ptr_equal(hashmap_get(h, (HashKey) { 5, 5000 }), &values[5]);
        assert_int_equal(hashmap_put(h, (HashKey) { 5, 5000 }, &values[6]), -EEXIST);

        for (uint64_t i = 0; i < 20000; i += 2)
                assert_ptr_equal(hashmap_remove(h, (HashKey) { i, i * 1000 }), &values[i]);
        assert_int_equal(hashmap_size(h), 10000);
        assert_null(hashmap_remove(h, (HashKey) { 0, 0 }));
        for (uint64_t i = 1; i < 20000; i += 2)
                assert_ptr_equal(hashmap_get(h, (HashKey) { i, i * 1000 }), &values[i]);

        /* Churn: many inserts and removes must not exhaust the table with tombstones. */
        for (uint64_t round = 0; round < 50; round++)
                for (uint64_t i = 0; i < 1000; i++) {
                        HashKey k = { 1000000 + round * 1000 + i, 7 };
                        assert_int_equal(hashmap_put(h, k, &values[0]), 0);
                        assert_ptr_equal(hashmap_remove(h, k), &values[0]);
                }
        assert_int_equal(hashmap_size(h), 10000);
        hashmap_free(h);
}

static void test_iterate_and_remove(void **state) {
        Hashmap *h = hashmap_new();
        static int values[300];
        size_t it = 0, seen = 0;
        HashKey k;
        void *v;

        for (uint64_t i = 0; i < 300; i++)
                assert_int_equal(hashmap_put(h, (HashKey) { i, 0 }, &values[i]), 0);
        while (hashmap_iterate(h, &it, &k, &v)) {
                assert_ptr_equal(v, &values[k.a]);
                seen++;
                if (k.a % 3 == 0)
                        hashmap_remove(h, k); /* removing the current entry is allowed */
        }
        assert_int_equal(seen, 300);
        assert_int_equal(hashmap_size(h), 200);
        assert_null(hashmap_free(h));
        assert_null(hashmap_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_put_get_remove),
                cmocka_unit_test(test_iterate_and_remove),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
