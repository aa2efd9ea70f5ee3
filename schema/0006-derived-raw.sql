-- SPDX-License-Identifier: GPL-2.0-or-later
-- jouled schema, version 6: raw rows without the energies they imply.
--
-- A domain's dynamic energy is shared over the processes by one basis (CPU
-- time, or resident memory for DRAM), and every domain's idle energy by
-- CPU time: within one raw interval each process's figure is its CPU time
-- (or memory) times one rate. The writer stores that rate once per interval
-- and domain and no per-process energy; only a domain whose split follows
-- no stored basis (per-package CPU time, GPU use, cycles) keeps per-process
-- rows (raw_sample_domains), and the rate is then NULL. The writer checks
-- each process's figure against the rate (within 1e-12 of the largest):
-- what the rates give is what the attribution computed.
--
-- interval_domains.cpu_rate: J of dynamic energy per ns of CPU time;
-- rss_rate: J per KiB of resident memory (raw_samples.rss_kib); idle_rate:
-- J of the idle energy's share per ns of CPU time. NULL: not by that basis
-- (both cpu_rate and rss_rate NULL: per-process rows hold it). Rollup rows
-- (level > 0) have none.
ALTER TABLE interval_domains ADD COLUMN cpu_rate REAL;
ALTER TABLE interval_domains ADD COLUMN rss_rate REAL;
ALTER TABLE interval_domains ADD COLUMN idle_rate REAL;

-- intervals.cpu_rate, rss_rate, idle_rate: the sums of those rates over the
-- interval's host-total domains, so that a process's total (samples.energy_j
-- of the view below) needs no per-domain join. NULL on rollup rows.
ALTER TABLE intervals ADD COLUMN cpu_rate REAL;
ALTER TABLE intervals ADD COLUMN rss_rate REAL;
ALTER TABLE intervals ADD COLUMN idle_rate REAL;

-- Raw rows (intervals.level 0): what only they can say. rss_kib is written
-- only in intervals where a domain is shared by memory (else NULL).
CREATE TABLE raw_samples (
        interval_id  INTEGER NOT NULL REFERENCES intervals (id) ON DELETE CASCADE,
        process_id   INTEGER NOT NULL,
        labels_id    INTEGER NOT NULL,
        cpu_ns       INTEGER NOT NULL,
        wakeups      INTEGER NOT NULL DEFAULT 0,
        rss_kib      INTEGER,
        PRIMARY KEY (interval_id, process_id, labels_id)
) WITHOUT ROWID;

-- Per-process figures of the domains whose rates are NULL (energy_j) or
-- whose idle_rate is NULL (idle_share_j); the part a rate gives is 0 here.
CREATE TABLE raw_sample_domains (
        interval_id   INTEGER NOT NULL REFERENCES intervals (id) ON DELETE CASCADE,
        process_id    INTEGER NOT NULL,
        labels_id     INTEGER NOT NULL,
        domain_id     INTEGER NOT NULL,
        energy_j      REAL    NOT NULL,
        idle_share_j  REAL    NOT NULL DEFAULT 0,
        PRIMARY KEY (interval_id, process_id, labels_id, domain_id)
) WITHOUT ROWID;

-- Rollups (level >= 1), per label set: exact sums (REAL: integer micro-joules
-- would round each row by up to 0.5 uJ, more than the sums may differ).
-- energy_j, idle_share_j: over the host-total domains, as in raw rows.
CREATE TABLE rollup_samples (
        interval_id   INTEGER NOT NULL REFERENCES intervals (id) ON DELETE CASCADE,
        labels_id     INTEGER NOT NULL,
        cpu_ns        INTEGER NOT NULL,
        wakeups       INTEGER NOT NULL DEFAULT 0,
        active_ns     INTEGER,
        n_procs       INTEGER,
        energy_j      REAL    NOT NULL,
        idle_share_j  REAL    NOT NULL DEFAULT 0,
        PRIMARY KEY (interval_id, labels_id)
) WITHOUT ROWID;

CREATE TABLE rollup_sample_domains (
        interval_id   INTEGER NOT NULL REFERENCES intervals (id) ON DELETE CASCADE,
        labels_id     INTEGER NOT NULL,
        domain_id     INTEGER NOT NULL,
        energy_j      REAL    NOT NULL,
        idle_share_j  REAL    NOT NULL DEFAULT 0,
        PRIMARY KEY (interval_id, labels_id, domain_id)
) WITHOUT ROWID;

-- Schema 5's rows: raw per-domain rows stay per process (their rates are
-- NULL), rollups move as they are. Exact: no figure is recomputed.
INSERT INTO raw_samples (interval_id, process_id, labels_id, cpu_ns, wakeups)
SELECT interval_id, process_id, labels_id, cpu_ns, wakeups FROM samples WHERE process_id > 0;
INSERT INTO raw_sample_domains (interval_id, process_id, labels_id, domain_id, energy_j, idle_share_j)
SELECT interval_id, process_id, labels_id, domain_id, energy_j, idle_share_j FROM sample_domains WHERE process_id > 0;
INSERT INTO rollup_samples (interval_id, labels_id, cpu_ns, wakeups, active_ns, n_procs, energy_j, idle_share_j)
SELECT interval_id, labels_id, cpu_ns, wakeups, active_ns, n_procs, energy_j, idle_share_j FROM samples WHERE process_id = 0;
INSERT INTO rollup_sample_domains (interval_id, labels_id, domain_id, energy_j, idle_share_j)
SELECT interval_id, labels_id, domain_id, energy_j, idle_share_j FROM sample_domains WHERE process_id = 0;
DROP TABLE sample_domains;
DROP TABLE samples;

-- samples and sample_domains as schema 5 had them, for readers with SQL
-- of their own (sqlite3, scripts): raw rows with the energies their
-- interval's rates give them (plus their own per-domain rows), then the
-- rollup rows (process_id 0). A per-domain row exists where the energy or
-- the idle share is not 0. jouled's own readers read the tables.
CREATE VIEW samples AS
SELECT s.interval_id, s.process_id, s.cpu_ns,
       s.cpu_ns * coalesce(i.cpu_rate, 0) + coalesce(s.rss_kib, 0) * coalesce(i.rss_rate, 0) +
       (SELECT total(x.energy_j) FROM raw_sample_domains x JOIN interval_domains xd
            ON xd.interval_id = x.interval_id AND xd.domain_id = x.domain_id
         WHERE x.interval_id = s.interval_id AND x.process_id = s.process_id AND x.labels_id = s.labels_id
           AND xd.host_total = 1) AS energy_j,
       NULL AS active_ns, s.wakeups, s.labels_id,
       s.cpu_ns * coalesce(i.idle_rate, 0) +
       (SELECT total(x.idle_share_j) FROM raw_sample_domains x JOIN interval_domains xd
            ON xd.interval_id = x.interval_id AND xd.domain_id = x.domain_id
         WHERE x.interval_id = s.interval_id AND x.process_id = s.process_id AND x.labels_id = s.labels_id
           AND xd.host_total = 1) AS idle_share_j,
       NULL AS n_procs
  FROM raw_samples s JOIN intervals i ON i.id = s.interval_id
UNION ALL
SELECT interval_id, 0, cpu_ns, energy_j, active_ns, wakeups, labels_id, idle_share_j, n_procs FROM rollup_samples;

CREATE VIEW sample_domains AS
SELECT interval_id, process_id, domain_id, energy_j, labels_id, idle_share_j FROM
(SELECT s.interval_id, s.process_id, d.domain_id,
        s.cpu_ns * coalesce(d.cpu_rate, 0) + coalesce(s.rss_kib, 0) * coalesce(d.rss_rate, 0) +
        coalesce(x.energy_j, 0) AS energy_j,
        s.labels_id, s.cpu_ns * coalesce(d.idle_rate, 0) + coalesce(x.idle_share_j, 0) AS idle_share_j
   FROM raw_samples s JOIN interval_domains d ON d.interval_id = s.interval_id
   LEFT JOIN raw_sample_domains x ON x.interval_id = s.interval_id AND x.process_id = s.process_id
        AND x.labels_id = s.labels_id AND x.domain_id = d.domain_id)
 WHERE energy_j != 0 OR idle_share_j != 0
UNION ALL
SELECT interval_id, 0, domain_id, energy_j, labels_id, idle_share_j FROM rollup_sample_domains;

-- Process rows: identity, parent, cgroup id, command line, and references
-- to the boot (boots) and to the label set (labels) it had when its row
-- was last written, instead of the boot id's and the labels' text in every
-- row (a short process's row was most of what it cost). `processes`, a
-- view, shows them as schema 5 did.
CREATE TABLE boots (
        id       INTEGER PRIMARY KEY,
        boot_id  TEXT    NOT NULL UNIQUE            -- /proc/sys/kernel/random/boot_id
);
INSERT INTO boots (boot_id) SELECT DISTINCT boot_id FROM processes ORDER BY boot_id;

-- Label sets of process rows that no sample had (schema 5 merged a NULL
-- into what the row had), numbered after the others.
INSERT INTO labels (comm, exe, uid, cgroup_path, unit, slice, container_id, kernel_thread)
SELECT p.comm, p.exe, p.uid, p.cgroup_path, p.unit, p.slice, p.container_id, p.kernel_thread FROM processes p
 WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.comm = p.comm AND l.exe IS p.exe AND l.uid = p.uid
                      AND l.cgroup_path IS p.cgroup_path AND l.unit IS p.unit AND l.slice IS p.slice
                      AND l.container_id IS p.container_id AND l.kernel_thread = p.kernel_thread)
 GROUP BY p.comm, p.exe, p.uid, p.cgroup_path, p.unit, p.slice, p.container_id, p.kernel_thread
 ORDER BY min(p.id);

CREATE TABLE procs (
        id             INTEGER PRIMARY KEY,
        boot           INTEGER NOT NULL,            -- boots.id
        pid            INTEGER NOT NULL,
        start_boot_ns  INTEGER NOT NULL,            -- CLOCK_BOOTTIME of its start
        start_ns       INTEGER NOT NULL,            -- the same, as CLOCK_REALTIME
        labels_id      INTEGER NOT NULL,            -- labels.id
        ppid           INTEGER NOT NULL,
        cgroup_id      INTEGER NOT NULL DEFAULT 0,
        last_ns        INTEGER,                     -- as processes.last_ns (0005)
        cmdline        TEXT,
        UNIQUE (boot, pid, start_boot_ns)
);
INSERT INTO procs (id, boot, pid, start_boot_ns, start_ns, labels_id, ppid, cgroup_id, last_ns, cmdline)
SELECT p.id, b.id, p.pid, p.start_boot_ns, p.start_ns, l.id, p.ppid, p.cgroup_id, p.last_ns, p.cmdline
  FROM processes p JOIN boots b ON b.boot_id = p.boot_id
  JOIN labels l ON l.comm = p.comm AND l.exe IS p.exe AND l.uid = p.uid AND l.cgroup_path IS p.cgroup_path
   AND l.unit IS p.unit AND l.slice IS p.slice AND l.container_id IS p.container_id
   AND l.kernel_thread = p.kernel_thread;
DROP TABLE processes;
CREATE INDEX procs_last_ns ON procs (last_ns);

CREATE VIEW processes AS
SELECT p.id, b.boot_id, p.pid, p.start_boot_ns, p.start_ns, l.comm, l.exe, l.uid, p.ppid, p.cgroup_id, l.unit,
       l.kernel_thread, p.cmdline, p.last_ns, l.cgroup_path, l.slice, l.container_id
  FROM procs p JOIN boots b ON b.id = p.boot JOIN labels l ON l.id = p.labels_id;
