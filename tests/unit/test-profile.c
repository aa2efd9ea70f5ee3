/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl profile's pure parts: folded stacks (reader, rounding that
 * conserves the total, tree, functions) and the symbolizer on a fixture
 * /proc and /tmp (mappings, kallsyms, JIT map, unknown frames). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "profile-stacks.h"
#include "profile-symbols.h"

static void test_folded_roundtrip(void **state) {
        static const char text[] = "# a comment\n"
                                   "app;main;hot_a 750\n"
                                   "\n"
                                   "app;main;hot_b 250\r\n"
                                   "app;main;hot_a 5\n";
        Profile p = {};
        size_t line = 0;
        char *out = NULL;
        size_t len = 0;
        FILE *f;

        assert_int_equal(profile_parse_folded(&p, text, strlen(text), &line), 0);
        assert_int_equal(p.n_stacks, 2);
        assert_true(profile_total_uj(&p) == 1005);
        f = open_memstream(&out, &len);
        assert_non_null(f);
        assert_int_equal(profile_write_folded(&p, f), 0);
        fclose(f);
        assert_string_equal(out, "app;main;hot_a 755\napp;main;hot_b 250\n");
        free(out);
        profile_done(&p);
}

static void test_folded_refused(void **state) {
        static const char *const bad[] = { "no weight\n", "a;b -3\n", " 12\n", "a;b 1.5\n", "ok 1\nbad\n",
                                           "a 123456789012345678901\n" };
        static const size_t bad_line[] = { 1, 1, 1, 1, 2, 1 };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                Profile p = {};
                size_t line = 0;
                assert_int_equal(profile_parse_folded(&p, bad[i], strlen(bad[i]), &line), -EINVAL);
                assert_int_equal(line, bad_line[i]);
                profile_done(&p);
        }
}

static void test_rounding_conserves(void **state) {
        Profile p = {};
        uint64_t *uj, sum = 0;

        /* Three thirds of 10 µJ, and a tiny remainder: the integers add up to 10. */
        assert_int_equal(profile_add(&p, "a", 10.0 / 3, 1), 0);
        assert_int_equal(profile_add(&p, "b", 10.0 / 3, 1), 0);
        assert_int_equal(profile_add(&p, "c", 10.0 / 3, 1), 0);
        uj = profile_round_uj(&p);
        assert_non_null(uj);
        for (size_t i = 0; i < p.n_stacks; i++) {
                assert_true(uj[i] == 3 || uj[i] == 4);
                sum += uj[i];
        }
        assert_int_equal(sum, 10);
        free(uj);
        profile_done(&p);
}

static void test_tree_and_functions(void **state) {
        Profile p = {}, before = {};
        ProfileFunction *f = NULL;
        ProfileNode *root;
        size_t n = 0;

        assert_int_equal(profile_add(&p, "app;main;rec;rec", 60, 6), 0);
        assert_int_equal(profile_add(&p, "app;main;other", 40, 4), 0);
        assert_int_equal(profile_add(&before, "app;main;other", 80, 0), 0);
        root = profile_tree(&p, &before, "all");
        assert_non_null(root);
        assert_true(root->uj == 100 && root->samples == 10);
        assert_int_equal(root->n_children, 1);
        assert_int_equal(root->children[0]->children[0]->n_children, 2);
        assert_string_equal(root->children[0]->children[0]->children[0]->name, "other");   /* sorted by name */
        assert_true(root->children[0]->children[0]->children[0]->before_uj == 80);
        profile_node_free(root);

        assert_int_equal(profile_functions(&p, &before, 0, &f, &n), 0);
        assert_int_equal(n, 4);
        /* Recursion counts once in the total; self is the leaf's. */
        for (size_t i = 0; i < n; i++)
                if (strcmp(f[i].name, "rec") == 0)
                        assert_true(f[i].total_uj == 60 && f[i].self_uj == 60 && f[i].self_samples == 6);
                else if (strcmp(f[i].name, "other") == 0)
                        assert_true(f[i].total_uj == 40 && f[i].before_total_uj == 80);
        assert_string_equal(f[0].name, "app");
        profile_functions_free(f, n);
        profile_done(&p);
        profile_done(&before);
}

/* The file offset of code address a in this process (its r-xp mapping). */
static uint64_t file_offset_of(uintptr_t a) {
        FILE *f = fopen("/proc/self/maps", "re");
        unsigned long long start, end, off;
        char line[1024], perms[8];
        uint64_t r = UINT64_MAX;

        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "%llx-%llx %7s %llx", &start, &end, perms, &off) == 4 && a >= start && a < end)
                        r = a - start + off;
        fclose(f);
        return r;
}

static void write_file(const char *dir, const char *name, const char *text) {
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void test_symbolizer_fixture(void **state) {
        char dir[] = "/tmp/test-profile-XXXXXX", proc[600], tmp[600], pid[700], buf[512], maps[2048], exe[512];
        Symbolizer *s = NULL;
        SymbolizerStats st;
        ssize_t n;

        assert_non_null(mkdtemp(dir));
        snprintf(proc, sizeof(proc), "%s/proc", dir);
        snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
        snprintf(pid, sizeof(pid), "%s/42", proc);
        assert_int_equal(mkdir(proc, 0755), 0);
        assert_int_equal(mkdir(tmp, 0755), 0);
        assert_int_equal(mkdir(pid, 0755), 0);
        /* This test program itself as the mapped executable: its symbols are real. */
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        assert_true(n > 0);
        exe[n] = 0;
        snprintf(maps, sizeof(maps),
                 "555500000000-555500100000 r-xp 00000000 08:01 1234 %s\n"
                 "7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n"
                 "7f0000100000-7f0000200000 r-xp 00000000 00:00 0\n"
                 "7f0000300000-7f0000301000 r-xp 00000000 08:01 99 /nonexistent/libgone.so (deleted)\n",
                 exe);
        write_file(pid, "maps", maps);
        write_file(pid, "comm", "fixture\n");
        write_file(proc, "kallsyms", "ffffffff81000000 T _stext\n"
                                     "ffffffff81001000 T do_syscall_64\n"
                                     "ffffffff81002000 t ksys_read\n"
                                     "ffffffff81003000 D some_data\n");
        write_file(tmp, "perf-42.map", "7f0000100000 100 jitted_function\n7f0000100100 80 LazyCompile:*hot app.js:3\n"
                                       "7f0000100200 80 _ZN3foo3barEv\n");

        assert_int_equal(symbolizer_new(proc, tmp, &s), 0);
        assert_int_equal(symbolizer_capture(s, 42), 0);
        assert_true(symbolizer_has_maps(s, 42));
        assert_string_equal(symbolizer_comm(s, 42), "fixture");
        assert_int_equal(symbolizer_capture(s, 43), -ESRCH);

        /* Kernel: nearest text symbol below, "_[k]". */
        symbolizer_kernel(s, 0xffffffff81001010, 1, buf, sizeof(buf));
        assert_string_equal(buf, "do_syscall_64_[k]");
        symbolizer_kernel(s, 0xffffffff81002000, 0, buf, sizeof(buf));   /* return address: one byte before */
        assert_string_equal(buf, "do_syscall_64_[k]");
        /* ELF symbols of the mapped file, through libdwfl. */
        uint64_t off = file_offset_of((uintptr_t) &test_rounding_conserves);
        assert_true(off < 0x100000);
        symbolizer_user(s, 42, 0x555500000000 + off + 4, 1, buf, sizeof(buf));
        assert_string_equal(buf, "test_rounding_conserves");
        /* JIT map. */
        symbolizer_user(s, 42, 0x7f0000100010, 1, buf, sizeof(buf));
        assert_string_equal(buf, "jitted_function");
        symbolizer_user(s, 42, 0x7f0000100110, 1, buf, sizeof(buf));
        assert_string_equal(buf, "LazyCompile:*hot app.js:3");
        /* C++ names demangled where libstdc++ is installed. */
        symbolizer_user(s, 42, 0x7f0000100210, 1, buf, sizeof(buf));
        assert_true(strcmp(buf, "foo::bar()") == 0 || strcmp(buf, "_ZN3foo3barEv") == 0);
        /* Unknown frames keep module and offset. */
        symbolizer_user(s, 42, 0x7f0000300010, 1, buf, sizeof(buf));
        assert_string_equal(buf, "[unknown] libgone.so+0x10");
        symbolizer_user(s, 42, 0x10, 1, buf, sizeof(buf));
        assert_string_equal(buf, "[unknown] 0x10");
        /* A child forked before its exec has its parent's mappings. */
        assert_int_equal(symbolizer_fork(s, 44, 42), 0);
        symbolizer_user(s, 44, 0x7f0000300010, 1, buf, sizeof(buf));
        assert_string_equal(buf, "[unknown] libgone.so+0x10");
        symbolizer_stats(s, &st);
        assert_true(st.unknown == 3 && st.frames == 9);
        symbolizer_free(s);

        snprintf(maps, sizeof(maps), "rm -rf '%s'", dir);
        assert_int_equal(system(maps), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_folded_roundtrip),
                cmocka_unit_test(test_folded_refused),
                cmocka_unit_test(test_rounding_conserves),
                cmocka_unit_test(test_tree_and_functions),
                cmocka_unit_test(test_symbolizer_fixture),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
