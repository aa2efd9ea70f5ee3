-- SPDX-License-Identifier: GPL-2.0-or-later
-- jouled schema, version 1.
--
-- Applied by daemon/store.c in one transaction that also sets
-- PRAGMA user_version = 1. Never edit a released migration: add 0002-*.sql.
--
-- Units: times are CLOCK_REALTIME nanoseconds since the epoch (UTC) unless
-- the column name says otherwise (start_boot_ns is CLOCK_BOOTTIME); energy is
-- joules (REAL), power watts, CPU time nanoseconds (INTEGER).

-- One energy domain as fed by one source. A domain keeps its identity per
-- (name, source), so that history recorded from "rapl" is never relabelled
-- when a later run of the daemon feeds the same domain name from "model".
-- estimated/host_total/kind hold the latest values seen.
CREATE TABLE domains (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL,              -- "package-0", "psys", ...
        kind        TEXT    NOT NULL,              -- "package", "core", ...
        source      TEXT    NOT NULL,              -- "rapl", "model", ...
        estimated   INTEGER NOT NULL DEFAULT 0,    -- 1: modelled, not measured
        host_total  INTEGER NOT NULL DEFAULT 0,    -- 1: counts in the host total
        UNIQUE (name, source)
);

-- One sampling interval (start_ns, end_ns]. Reports select by end_ns.
CREATE TABLE intervals (
        id          INTEGER PRIMARY KEY,
        start_ns    INTEGER NOT NULL,
        end_ns      INTEGER NOT NULL
);
CREATE INDEX intervals_end_ns ON intervals (end_ns);

-- Per interval and domain: measured = attributed + idle + unattributed.
-- A domain that could not be read in an interval has no row for it.
-- host_total is copied here so that totals stay right if it ever changes.
CREATE TABLE interval_domains (
        interval_id     INTEGER NOT NULL REFERENCES intervals (id) ON DELETE CASCADE,
        domain_id       INTEGER NOT NULL REFERENCES domains (id),
        host_total      INTEGER NOT NULL DEFAULT 0,
        measured_j      REAL    NOT NULL,
        idle_j          REAL    NOT NULL,
        attributed_j    REAL    NOT NULL,
        unattributed_j  REAL    NOT NULL,
        idle_w          REAL,
        idle_method     TEXT,
        PRIMARY KEY (interval_id, domain_id)
) WITHOUT ROWID;

-- One process (thread group). Identity is (boot_id, pid, start_boot_ns): a
-- reused pid has another start time, a new boot another boot id.
CREATE TABLE processes (
        id             INTEGER PRIMARY KEY,
        boot_id        TEXT    NOT NULL,           -- /proc/sys/kernel/random/boot_id
        pid            INTEGER NOT NULL,
        start_boot_ns  INTEGER NOT NULL,           -- CLOCK_BOOTTIME of its start
        start_ns       INTEGER NOT NULL,           -- the same, as CLOCK_REALTIME
        comm           TEXT    NOT NULL,
        exe            TEXT,
        uid            INTEGER NOT NULL,
        ppid           INTEGER NOT NULL,
        cgroup_id      INTEGER NOT NULL DEFAULT 0,
        unit           TEXT,                       -- leaf cgroup name, e.g. "sshd.service"
        kernel_thread  INTEGER NOT NULL DEFAULT 0,
        UNIQUE (boot_id, pid, start_boot_ns)
);

-- Per interval and process: CPU time and energy attributed to it.
-- energy_j is the sum over the interval's host_total domains of the
-- process's energy (sample_domains), so it adds up to the host figure.
CREATE TABLE samples (
        interval_id  INTEGER NOT NULL REFERENCES intervals (id) ON DELETE CASCADE,
        process_id   INTEGER NOT NULL REFERENCES processes (id),
        cpu_ns       INTEGER NOT NULL,
        energy_j     REAL    NOT NULL,
        PRIMARY KEY (interval_id, process_id)
) WITHOUT ROWID;
CREATE INDEX samples_process ON samples (process_id);

-- Per interval, process and domain: energy attributed (rows with 0 J are
-- not written).
CREATE TABLE sample_domains (
        interval_id  INTEGER NOT NULL REFERENCES intervals (id) ON DELETE CASCADE,
        process_id   INTEGER NOT NULL REFERENCES processes (id),
        domain_id    INTEGER NOT NULL REFERENCES domains (id),
        energy_j     REAL    NOT NULL,
        PRIMARY KEY (interval_id, process_id, domain_id)
) WITHOUT ROWID;

-- Daemon state for `joulectl status`: tracker_mode, tracker_note,
-- last_sample, pid, interval_s, version, processes_tracked, exits_lost,
-- vanished, started, ...
CREATE TABLE daemon_state (
        key         TEXT PRIMARY KEY,
        value       TEXT,
        updated_ns  INTEGER NOT NULL
);

-- The last source probe of the daemon, one row per known source.
CREATE TABLE source_probes (
        name       TEXT PRIMARY KEY,
        status     TEXT    NOT NULL,               -- usable, missing, permission, unsupported
        estimated  INTEGER NOT NULL DEFAULT 0,
        in_use     INTEGER NOT NULL DEFAULT 0,
        reason     TEXT
);
