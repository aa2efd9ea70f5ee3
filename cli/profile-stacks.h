/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <stdio.h>

/* An energy profile: folded stacks ("root;caller;callee", root first) each
 * with its energy in micro-joules (kept fractional until written) and its
 * number of CPU samples; and the frame tree built from them for renderers. */

typedef struct ProfileStack {
        char *frames;
        double uj;
        uint64_t samples;
} ProfileStack;

typedef struct Profile {
        ProfileStack *stacks;
        size_t n_stacks, cap;
        size_t *table;              /* open addressing: index + 1, 0 empty */
        size_t table_size;
} Profile;

void profile_done(Profile *p);
/* Add energy and samples to a stack (created when new). 0, -ENOMEM. */
int profile_add(Profile *p, const char *frames, double uj, uint64_t samples);
double profile_total_uj(const Profile *p);
uint64_t profile_total_samples(const Profile *p);

/* Integer micro-joules per stack whose sum is the rounded total (largest
 * remainder), in stack order. Returns an array of n_stacks, or NULL. */
uint64_t *profile_round_uj(const Profile *p);
/* Folded format: "frame;frame;frame WEIGHT\n", integer micro-joules, sorted
 * by stack. Returns 0 or -errno of the write. */
int profile_write_folded(const Profile *p, FILE *f);
/* Frames per stack read from a folded file at most (ours have at most
 * 1 + 2 × 127 and inline frames): deeper lines are refused, which bounds the
 * recursion of the renderers. */
#define PROFILE_FOLDED_MAX_FRAMES 4096

/* Parse folded text (each line "STACK WEIGHT", WEIGHT a whole number;
 * empty lines and lines starting with '#' skipped; the same stack on two
 * lines adds up; at most PROFILE_FOLDED_MAX_FRAMES frames). samples stay 0. Returns 0, -EINVAL with *ret_line the bad
 * line (1-based), -ENOMEM. Does not log. */
int profile_parse_folded(Profile *p, const char *text, size_t len, size_t *ret_line);
int profile_read_folded_file(Profile *p, const char *path, size_t *ret_line);

/* ---- Frame tree -------------------------------------------------------- */

typedef struct ProfileNode {
        char *name;
        double uj;                  /* this frame and everything it called */
        double self_uj;
        uint64_t samples;
        double before_uj;           /* diff: the same path's energy in BEFORE */
        struct ProfileNode **children;
        size_t n_children, cap;
} ProfileNode;

/* The tree of p under a root named root_name (children sorted by name).
 * before: NULL, or a profile whose energy per path fills before_uj. */
ProfileNode *profile_tree(const Profile *p, const Profile *before, const char *root_name);
ProfileNode *profile_node_free(ProfileNode *n);

/* ---- Functions --------------------------------------------------------- */

typedef struct ProfileFunction {
        char *name;
        double self_uj, total_uj;
        uint64_t self_samples, total_samples;
        double before_self_uj, before_total_uj;
} ProfileFunction;

/* Per frame name: energy where it is the leaf (self) and in stacks that
 * contain it (total, counted once per stack). before may be NULL. Sorted by
 * total energy, largest first (by self with by_self). */
int profile_functions(const Profile *p, const Profile *before, int by_self, ProfileFunction **ret, size_t *ret_n);
void profile_functions_free(ProfileFunction *f, size_t n);
