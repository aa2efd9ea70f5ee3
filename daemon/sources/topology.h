/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* CPU topology: which package (socket) each CPU is in, from
 * SYS_ROOT/devices/system/cpu/cpuN/topology/{physical_package_id,core_id}. */

typedef struct TopologyCpu {
        int cpu;
        int package;                /* physical_package_id */
        int core;                   /* core_id (within its package), -1 unknown */
} TopologyCpu;

typedef struct Topology {
        TopologyCpu *cpus;          /* sorted by cpu */
        size_t n_cpus;
        int *packages;              /* distinct package ids, sorted */
        size_t n_packages;
} Topology;

/* Read the topology. sys_root NULL means "/sys". When the override (argument,
 * else $JOULED_TOPOLOGY) is set, it is used instead of sysfs: "CPU:PKG,..."
 * e.g. "0:0,1:1" (CPU0 in package 0, CPU1 in package 1). Returns 0, -ENOENT
 * when no CPU has a package id, -EINVAL for a malformed override, -ENOMEM.
 * A CPU without a readable physical_package_id (e.g. offline) is left out.
 * Does not log. Free with topology_done(). */
int topology_read_full(const char *sys_root, const char *override, Topology *ret);
int topology_read(const char *sys_root, Topology *ret);
void topology_done(Topology *t);

/* Package of a CPU, or -1. */
int topology_cpu_package(const Topology *t, int cpu);
/* First (lowest-numbered) CPU of a package, or -1. */
int topology_package_first_cpu(const Topology *t, int package);

/* Parse a CPU list like "0-3,8,10-11" (sysfs cpumask/cpulist style) into a
 * sorted array. Returns 0, -EINVAL, -ENOMEM. */
int cpu_list_parse(const char *s, int **ret, size_t *ret_n);

/* The value of the first "key : value" line of PROC_ROOT/cpuinfo with that
 * key ("vendor_id", "model name", "cpu family", "model"). proc_root NULL
 * means "/proc". Returns 0, -ENOENT (no file or no such key), -ENOMEM. */
int cpuinfo_field(const char *proc_root, const char *key, char **ret);
