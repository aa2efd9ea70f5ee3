/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdio.h>
#include <systemd/sd-event.h>

#include "config.h"

/* The Manager owns the event loop and every handle: tracker, energy sources,
 * idle estimators, store, timers and signal sources. */
typedef struct Manager Manager;

/* Takes ownership of nothing; copies what it needs from cfg. Logs its errors. */
int manager_new(const JouledConfig *cfg, const char *config_path, Manager **ret);
Manager *manager_free(Manager *m);
/* Open sources, tracker and store; arm timers. Logs its errors. */
int manager_start(Manager *m);
/* Run until SIGTERM/SIGINT; the last partial interval is written. Returns exit code. */
int manager_run(Manager *m);

static inline void manager_freep(Manager **m) {
        if (*m)
                manager_free(*m);
}

/* `jouled --probe`: probe and print every source, which feeds each domain. Logs its errors. */
int manager_probe_print(const JouledConfig *cfg, FILE *f);
