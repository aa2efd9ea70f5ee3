/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "string-table.h"

typedef enum Fruit {
        FRUIT_APPLE,
        FRUIT_PEAR,
        FRUIT_PLUM,
        _FRUIT_MAX,
        _FRUIT_INVALID = -1,
} Fruit;

static const char *const fruit_table[] = {
        [FRUIT_APPLE] = "apple",
        [FRUIT_PEAR] = "pear",
        [FRUIT_PLUM] = "plum",
};

const char *fruit_to_string(Fruit f);
Fruit fruit_from_string(const char *s);
DEFINE_STRING_TABLE_LOOKUP(fruit, Fruit, FRUIT);

/* A private one with a hole: the hole has no name and is never found. */
typedef enum Colour {
        COLOUR_RED,
        COLOUR_UNNAMED,
        COLOUR_BLUE,
        _COLOUR_MAX,
        _COLOUR_INVALID = -1,
} Colour;

static const char *const colour_table[] = {
        [COLOUR_RED] = "red",
        [COLOUR_BLUE] = "blue",
};
DEFINE_PRIVATE_STRING_TABLE_LOOKUP(colour, Colour, COLOUR);

static void test_both_ways(void **state) {
        for (Fruit f = 0; f < _FRUIT_MAX; f++)
                assert_int_equal(fruit_from_string(fruit_to_string(f)), f);
        assert_string_equal(fruit_to_string(FRUIT_PEAR), "pear");
        assert_int_equal(fruit_from_string("plum"), FRUIT_PLUM);
}

static void test_unknown(void **state) {
        assert_null(fruit_to_string(_FRUIT_INVALID));
        assert_null(fruit_to_string(_FRUIT_MAX));
        assert_null(fruit_to_string((Fruit) 1000));
        assert_int_equal(fruit_from_string(NULL), _FRUIT_INVALID);
        assert_int_equal(fruit_from_string(""), _FRUIT_INVALID);
        assert_int_equal(fruit_from_string("Apple"), _FRUIT_INVALID);
        assert_int_equal(fruit_from_string("apple "), _FRUIT_INVALID);
        assert_int_equal(fruit_from_string("appl"), _FRUIT_INVALID);
}

static void test_hole(void **state) {
        assert_string_equal(colour_to_string(COLOUR_BLUE), "blue");
        assert_null(colour_to_string(COLOUR_UNNAMED));
        assert_int_equal(colour_from_string("blue"), COLOUR_BLUE);
        assert_int_equal(colour_from_string(""), _COLOUR_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_both_ways),
                cmocka_unit_test(test_unknown),
                cmocka_unit_test(test_hole),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
