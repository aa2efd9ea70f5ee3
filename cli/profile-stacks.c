/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Folded stacks: the table, rounding to integer micro-joules that conserve
 * the total, the folded-format reader and writer, the frame tree and the
 * per-function figures. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "profile-stacks.h"
#include "util.h"

static uint64_t hash_str(const char *s, size_t n) {
        uint64_t h = UINT64_C(1469598103934665603);
        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char) s[i];
                h *= UINT64_C(1099511628211);
        }
        return h;
}

void profile_done(Profile *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_stacks; i++)
                free(p->stacks[i].frames);
        free(p->stacks);
        free(p->table);
        *p = (Profile) {};
}

static int table_grow(Profile *p) {
        size_t size = p->table_size ? p->table_size * 2 : 256;
        size_t *t = calloc(size, sizeof(size_t));

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_stacks; i++) {
                const char *f = p->stacks[i].frames;
                size_t j = hash_str(f, strlen(f)) & (size - 1);
                while (t[j])
                        j = (j + 1) & (size - 1);
                t[j] = i + 1;
        }
        free(p->table);
        p->table = t;
        p->table_size = size;
        return 0;
}

/* The stack frames[0..len), created when new. */
static ProfileStack *profile_get(Profile *p, const char *frames, size_t len) {
        size_t j;

        if ((p->n_stacks + 1) * 2 > p->table_size && table_grow(p) < 0)
                return NULL;
        j = hash_str(frames, len) & (p->table_size - 1);
        while (p->table[j]) {
                ProfileStack *s = &p->stacks[p->table[j] - 1];
                if (strncmp(s->frames, frames, len) == 0 && s->frames[len] == 0)
                        return s;
                j = (j + 1) & (p->table_size - 1);
        }
        if (p->n_stacks == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 64;
                ProfileStack *n = reallocarray(p->stacks, cap, sizeof(ProfileStack));
                if (!n)
                        return NULL;
                p->stacks = n;
                p->cap = cap;
        }
        p->stacks[p->n_stacks] = (ProfileStack) { .frames = strndup(frames, len) };
        if (!p->stacks[p->n_stacks].frames)
                return NULL;
        p->table[j] = ++p->n_stacks;
        return &p->stacks[p->n_stacks - 1];
}

int profile_add(Profile *p, const char *frames, double uj, uint64_t samples) {
        ProfileStack *s;

        assert(p);
        assert(frames);
        s = profile_get(p, frames, strlen(frames));
        if (!s)
                return -ENOMEM;
        s->uj += uj;
        s->samples += samples;
        return 0;
}

double profile_total_uj(const Profile *p) {
        double t = 0;
        for (size_t i = 0; i < p->n_stacks; i++)
                t += p->stacks[i].uj;
        return t;
}

uint64_t profile_total_samples(const Profile *p) {
        uint64_t t = 0;
        for (size_t i = 0; i < p->n_stacks; i++)
                t += p->stacks[i].samples;
        return t;
}

typedef struct Remainder {
        double frac;
        size_t index;
} Remainder;

static int remainder_cmp(const void *a, const void *b) {
        const Remainder *x = a, *y = b;
        if (x->frac != y->frac)
                return x->frac > y->frac ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

uint64_t *profile_round_uj(const Profile *p) {
        _cleanup_free_ uint64_t *out = calloc(MAX(p->n_stacks, (size_t) 1), sizeof(uint64_t));
        _cleanup_free_ Remainder *rem = calloc(MAX(p->n_stacks, (size_t) 1), sizeof(Remainder));
        double total = 0;
        uint64_t sum = 0, want;

        if (!out || !rem)
                return NULL;
        for (size_t i = 0; i < p->n_stacks; i++) {
                double v = p->stacks[i].uj > 0 && isfinite(p->stacks[i].uj) ? p->stacks[i].uj : 0;
                total += v;
                out[i] = v >= 1.8e19 ? UINT64_C(18000000000000000000) : (uint64_t) floor(v);
                rem[i] = (Remainder) { .frac = v - floor(v), .index = i };
                sum += out[i];
        }
        want = total >= 1.8e19 ? sum : (uint64_t) llround(total);
        qsort(rem, p->n_stacks, sizeof(Remainder), remainder_cmp);
        for (size_t i = 0; i < p->n_stacks && sum < want; i++, sum++)
                out[rem[i].index]++;
        return TAKE_PTR(out);
}

static int stack_cmp(const void *a, const void *b) {
        const ProfileStack *const *x = a, *const *y = b;
        return strcmp((*x)->frames, (*y)->frames);
}

int profile_write_folded(const Profile *p, FILE *f) {
        _cleanup_free_ uint64_t *uj = profile_round_uj(p);
        _cleanup_free_ const ProfileStack **order = calloc(MAX(p->n_stacks, (size_t) 1), sizeof(ProfileStack *));

        if (!uj || !order)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_stacks; i++)
                order[i] = &p->stacks[i];
        qsort(order, p->n_stacks, sizeof(order[0]), stack_cmp);
        for (size_t i = 0; i < p->n_stacks; i++) {
                size_t k = (size_t) (order[i] - p->stacks);
                if (uj[k] > 0)
                        fprintf(f, "%s %" PRIu64 "\n", order[i]->frames, uj[k]);
        }
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return 0;
}

int profile_parse_folded(Profile *p, const char *text, size_t len, size_t *ret_line) {
        size_t line = 0, pos = 0;

        assert(p);
        while (pos < len) {
                const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
                size_t n = nl ? (size_t) (nl - s) : len - pos, end, sp;
                uint64_t w = 0;
                ProfileStack *st;

                pos += n + (nl ? 1 : 0);
                line++;
                if (n > 0 && s[n - 1] == '\r')
                        n--;
                if (n == 0 || s[0] == '#')
                        continue;
                end = n;
                while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t'))
                        end--;
                sp = end;
                while (sp > 0 && s[sp - 1] >= '0' && s[sp - 1] <= '9')
                        sp--;
                if (sp == end || sp == 0 || (s[sp - 1] != ' ' && s[sp - 1] != '\t') || end - sp > 19)
                        goto bad;
                for (size_t i = sp; i < end; i++)
                        w = w * 10 + (uint64_t) (s[i] - '0');
                sp--;
                while (sp > 0 && (s[sp - 1] == ' ' || s[sp - 1] == '\t'))
                        sp--;
                if (sp == 0 || memchr(s, 0, sp))
                        goto bad;
                {
                        size_t frames = 1;
                        for (size_t i = 0; i < sp; i++)
                                frames += s[i] == ';';
                        if (frames > PROFILE_FOLDED_MAX_FRAMES)
                                goto bad;
                }
                st = profile_get(p, s, sp);
                if (!st)
                        return -ENOMEM;
                st->uj += (double) w;
                continue;
        bad:
                if (ret_line)
                        *ret_line = line;
                return -EINVAL;
        }
        return 0;
}

int profile_read_folded_file(Profile *p, const char *path, size_t *ret_line) {
        _cleanup_free_ char *text = NULL;
        int r;

        if (ret_line)
                *ret_line = 0;
        r = read_small_file(path, (size_t) 1 << 30, &text);
        if (r < 0)
                return r;
        return profile_parse_folded(p, text, strlen(text), ret_line);
}

/* ---- Frame tree -------------------------------------------------------- */

ProfileNode *profile_node_free(ProfileNode *n) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n_children; i++)
                profile_node_free(n->children[i]);
        free(n->children);
        free(n->name);
        free(n);
        return NULL;
}

static ProfileNode *node_new(const char *name, size_t len) {
        ProfileNode *n = calloc(1, sizeof(ProfileNode));
        if (!n)
                return NULL;
        n->name = strndup(name, len);
        if (!n->name)
                return profile_node_free(n);
        return n;
}

/* The child named name[0..len) of n (linear: children per frame are few). */
static ProfileNode *node_child(ProfileNode *n, const char *name, size_t len, bool create) {
        ProfileNode *c;

        for (size_t i = 0; i < n->n_children; i++)
                if (strncmp(n->children[i]->name, name, len) == 0 && n->children[i]->name[len] == 0)
                        return n->children[i];
        if (!create)
                return NULL;
        if (n->n_children == n->cap) {
                size_t cap = n->cap ? n->cap * 2 : 4;
                ProfileNode **a = reallocarray(n->children, cap, sizeof(ProfileNode *));
                if (!a)
                        return NULL;
                n->children = a;
                n->cap = cap;
        }
        c = node_new(name, len);
        if (!c)
                return NULL;
        n->children[n->n_children++] = c;
        return c;
}

static int node_cmp(const void *a, const void *b) {
        const ProfileNode *const *x = a, *const *y = b;
        return strcmp((*x)->name, (*y)->name);
}

static void node_sort(ProfileNode *n) {
        qsort(n->children, n->n_children, sizeof(ProfileNode *), node_cmp);
        for (size_t i = 0; i < n->n_children; i++)
                node_sort(n->children[i]);
}

/* Walk one stack from root, creating nodes when create. value/samples go
 * to every node on the path (self to the leaf); before_uj likewise. */
static int tree_add(ProfileNode *root, const char *frames, double uj, uint64_t samples, bool before) {
        ProfileNode *n = root;
        const char *s = frames;

        if (before)
                root->before_uj += uj;
        else {
                root->uj += uj;
                root->samples += samples;
        }
        for (;;) {
                size_t len = strcspn(s, ";");
                n = node_child(n, s, len, !before);
                if (!n)
                        return before ? 0 : -ENOMEM;
                if (before)
                        n->before_uj += uj;
                else {
                        n->uj += uj;
                        n->samples += samples;
                }
                if (!s[len]) {
                        if (!before)
                                n->self_uj += uj;
                        return 0;
                }
                s += len + 1;
        }
}

ProfileNode *profile_tree(const Profile *p, const Profile *before, const char *root_name) {
        ProfileNode *root = node_new(root_name, strlen(root_name));

        if (!root)
                return NULL;
        for (size_t i = 0; i < p->n_stacks; i++)
                if (tree_add(root, p->stacks[i].frames, p->stacks[i].uj, p->stacks[i].samples, false) < 0)
                        return profile_node_free(root);
        if (before)
                for (size_t i = 0; i < before->n_stacks; i++)
                        (void) tree_add(root, before->stacks[i].frames, before->stacks[i].uj, 0, true);
        node_sort(root);
        return root;
}

/* ---- Functions --------------------------------------------------------- */

typedef struct FunctionTable {
        Profile names;              /* reused as a string → index table; uj unused */
        ProfileFunction *f;
        size_t n, cap;
        uint64_t *stamp;            /* last stack that counted a function's total */
} FunctionTable;

static ProfileFunction *function_get(FunctionTable *t, const char *name, size_t len, size_t *ret_index) {
        ProfileStack *s = profile_get(&t->names, name, len);
        size_t i;

        if (!s)
                return NULL;
        i = (size_t) (s - t->names.stacks);
        if (i == t->n) {
                if (t->n == t->cap) {
                        size_t cap = t->cap ? t->cap * 2 : 64;
                        ProfileFunction *a = reallocarray(t->f, cap, sizeof(ProfileFunction));
                        uint64_t *st = reallocarray(t->stamp, cap, sizeof(uint64_t));
                        if (st)
                                t->stamp = st;
                        if (a)
                                t->f = a;
                        if (!a || !st)
                                return NULL;
                        t->cap = cap;
                }
                t->f[i] = (ProfileFunction) { .name = strndup(name, len) };
                t->stamp[i] = UINT64_MAX;
                if (!t->f[i].name)
                        return NULL;
                t->n++;
        }
        *ret_index = i;
        return &t->f[i];
}

static int functions_add(FunctionTable *t, const Profile *p, bool before, uint64_t *stamp_base) {
        for (size_t k = 0; k < p->n_stacks; k++) {
                const ProfileStack *st = &p->stacks[k];
                uint64_t stamp = (*stamp_base)++;
                const char *s = st->frames;
                for (;;) {
                        size_t len = strcspn(s, ";"), i;
                        ProfileFunction *f = function_get(t, s, len, &i);
                        if (!f)
                                return -ENOMEM;
                        if (t->stamp[i] != stamp) {
                                t->stamp[i] = stamp;
                                if (before)
                                        f->before_total_uj += st->uj;
                                else {
                                        f->total_uj += st->uj;
                                        f->total_samples += st->samples;
                                }
                        }
                        if (!s[len]) {
                                if (before)
                                        f->before_self_uj += st->uj;
                                else {
                                        f->self_uj += st->uj;
                                        f->self_samples += st->samples;
                                }
                                break;
                        }
                        s += len + 1;
                }
        }
        return 0;
}

static int function_cmp_total(const void *a, const void *b) {
        const ProfileFunction *x = a, *y = b;
        double dx = x->total_uj, dy = y->total_uj;
        if (dx != dy)
                return dx > dy ? -1 : 1;
        return strcmp(x->name, y->name);
}

static int function_cmp_self(const void *a, const void *b) {
        const ProfileFunction *x = a, *y = b;
        if (x->self_uj != y->self_uj)
                return x->self_uj > y->self_uj ? -1 : 1;
        return strcmp(x->name, y->name);
}

void profile_functions_free(ProfileFunction *f, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(f ? f[i].name : NULL);
        free(f);
}

int profile_functions(const Profile *p, const Profile *before, int by_self, ProfileFunction **ret, size_t *ret_n) {
        FunctionTable t = {};
        uint64_t stamp = 0;
        int r;

        r = functions_add(&t, p, false, &stamp);
        if (r >= 0 && before)
                r = functions_add(&t, before, true, &stamp);
        profile_done(&t.names);
        free(t.stamp);
        if (r < 0) {
                profile_functions_free(t.f, t.n);
                return r;
        }
        if (t.n > 0)
                qsort(t.f, t.n, sizeof(ProfileFunction), by_self ? function_cmp_self : function_cmp_total);
        *ret = t.f;
        *ret_n = t.n;
        return 0;
}
