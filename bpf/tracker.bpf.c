// SPDX-License-Identifier: GPL-2.0-or-later
/* placeholder: being written */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
