-- SPDX-License-Identifier: GPL-2.0-or-later
-- jouled schema, version 5: labels per interval, rollups keyed by labels,
-- share-of-idle energy, the idle estimate's uncertainty.
--
-- labels: one row per distinct label set (what reports group by). A label
-- set is never repeated: the unique index treats NULLs as equal (x'00', a
-- blob, never equals a text value). Rows are never deleted (they are few:
-- one per distinct comm, exe, uid and cgroup, not per process).
CREATE TABLE labels (
        id             INTEGER PRIMARY KEY,
        comm           TEXT    NOT NULL,
        exe            TEXT,
        uid            INTEGER NOT NULL,
        cgroup_path    TEXT,
        unit           TEXT,
        slice          TEXT,
        container_id   TEXT,
        kernel_thread  INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX labels_set ON labels (comm, ifnull(exe, x'00'), uid, ifnull(cgroup_path, x'00'),
        ifnull(unit, x'00'), ifnull(slice, x'00'), ifnull(container_id, x'00'), kernel_thread);

-- Every label set the process rows hold (their labels as first stored),
-- numbered by the first process that had it.
INSERT INTO labels (id, comm, exe, uid, cgroup_path, unit, slice, container_id, kernel_thread)
SELECT min(id), comm, exe, uid, cgroup_path, unit, slice, container_id, kernel_thread FROM processes
 GROUP BY comm, exe, uid, cgroup_path, unit, slice, container_id, kernel_thread;

CREATE TEMP TABLE process_labels AS
SELECT p.id AS process_id, l.id AS labels_id FROM processes p JOIN labels l
    ON l.comm = p.comm AND ifnull(l.exe, x'00') = ifnull(p.exe, x'00') AND l.uid = p.uid
   AND ifnull(l.cgroup_path, x'00') = ifnull(p.cgroup_path, x'00') AND ifnull(l.unit, x'00') = ifnull(p.unit, x'00')
   AND ifnull(l.slice, x'00') = ifnull(p.slice, x'00') AND ifnull(l.container_id, x'00') = ifnull(p.container_id, x'00')
   AND l.kernel_thread = p.kernel_thread;

-- samples: raw rows (intervals.level 0) are per process and interval, with
-- the labels the process had in that interval; rollup rows (level >= 1) are
-- per label set and bucket, process_id 0, n_procs the processes summed
-- (distinct processes per minute; hours and days sum their minutes' counts).
-- idle_share_j: the process's (or label set's) share of the idle energy by
-- CPU time, over the host-total domains, beside energy_j, the dynamic energy.
-- process_id has no foreign key (0 in rollups): the writer knows when
-- process rows were pruned (store-maintain.c).
CREATE TABLE samples_new (
        interval_id   INTEGER NOT NULL REFERENCES intervals (id) ON DELETE CASCADE,
        process_id    INTEGER NOT NULL,
        cpu_ns        INTEGER NOT NULL,
        energy_j      REAL    NOT NULL,
        active_ns     INTEGER,
        wakeups       INTEGER NOT NULL DEFAULT 0,
        labels_id     INTEGER NOT NULL REFERENCES labels (id),
        idle_share_j  REAL    NOT NULL DEFAULT 0,
        n_procs       INTEGER,
        PRIMARY KEY (interval_id, process_id, labels_id)
) WITHOUT ROWID;

INSERT INTO samples_new (interval_id, process_id, cpu_ns, energy_j, active_ns, wakeups, labels_id)
SELECT s.interval_id, s.process_id, s.cpu_ns, s.energy_j, s.active_ns, s.wakeups, pl.labels_id
  FROM samples s JOIN intervals i ON i.id = s.interval_id JOIN process_labels pl ON pl.process_id = s.process_id
 WHERE i.level = 0;

-- Per-process rollups folded into label rollups: exact sums.
INSERT INTO samples_new (interval_id, process_id, cpu_ns, energy_j, active_ns, wakeups, labels_id, n_procs)
SELECT s.interval_id, 0, sum(s.cpu_ns), total(s.energy_j), max(s.active_ns), sum(s.wakeups), pl.labels_id, count(*)
  FROM samples s JOIN intervals i ON i.id = s.interval_id JOIN process_labels pl ON pl.process_id = s.process_id
 WHERE i.level > 0 GROUP BY s.interval_id, pl.labels_id;

CREATE TABLE sample_domains_new (
        interval_id   INTEGER NOT NULL REFERENCES intervals (id) ON DELETE CASCADE,
        process_id    INTEGER NOT NULL,
        domain_id     INTEGER NOT NULL REFERENCES domains (id),
        energy_j      REAL    NOT NULL,
        labels_id     INTEGER NOT NULL REFERENCES labels (id),
        idle_share_j  REAL    NOT NULL DEFAULT 0,
        PRIMARY KEY (interval_id, process_id, labels_id, domain_id)
) WITHOUT ROWID;

INSERT INTO sample_domains_new (interval_id, process_id, domain_id, energy_j, labels_id)
SELECT sd.interval_id, sd.process_id, sd.domain_id, sd.energy_j, pl.labels_id
  FROM sample_domains sd JOIN intervals i ON i.id = sd.interval_id JOIN process_labels pl ON pl.process_id = sd.process_id
 WHERE i.level = 0;

INSERT INTO sample_domains_new (interval_id, process_id, domain_id, energy_j, labels_id)
SELECT sd.interval_id, 0, sd.domain_id, total(sd.energy_j), pl.labels_id
  FROM sample_domains sd JOIN intervals i ON i.id = sd.interval_id JOIN process_labels pl ON pl.process_id = sd.process_id
 WHERE i.level > 0 GROUP BY sd.interval_id, pl.labels_id, sd.domain_id;

DROP TABLE sample_domains;
DROP TABLE samples;
ALTER TABLE samples_new RENAME TO samples;
ALTER TABLE sample_domains_new RENAME TO sample_domains;
DROP TABLE process_labels;

-- processes: identity only matters while raw rows refer to it. last_ns is
-- now the end of the last minute rollup the process had a raw sample in;
-- rows no raw sample refers to go (never the highest id: ids are not reused).
UPDATE processes SET last_ns = x.m
  FROM (SELECT s.process_id AS pid, max(i.end_ns) AS m
          FROM intervals i JOIN samples s ON s.interval_id = i.id
         WHERE i.level = 0 GROUP BY s.process_id) AS x
 WHERE x.pid = processes.id;
DELETE FROM processes WHERE id < (SELECT max(id) FROM processes)
   AND id NOT IN (SELECT process_id FROM samples WHERE process_id > 0);
CREATE INDEX processes_last_ns ON processes (last_ns);

-- interval_domains.idle_band_w: the idle estimate's uncertainty, ± W (NULL:
-- not given). idle_method says how the estimate was made (configured,
-- measured-idle, regression, persisted, prior, ...), per interval and domain.
ALTER TABLE interval_domains ADD COLUMN idle_band_w REAL;
