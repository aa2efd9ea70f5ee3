/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* What the configuration needs of the metrics exporter, apart from its API:
 * its defaults and the grammar of its listen address. */

#define METRICS_DEFAULT_TOP_PROCESSES 10
#define METRICS_DEFAULT_PORT 9867

/* Parse a listen address: "PORT" (→ 127.0.0.1), "ADDR:PORT", "[ADDR6]:PORT".
 * Fills a sockaddr_in or sockaddr_in6 in ret (struct sockaddr_storage). 0 or -EINVAL. */
struct sockaddr_storage;
int metrics_parse_listen(const char *s, struct sockaddr_storage *ret, size_t *ret_len);
