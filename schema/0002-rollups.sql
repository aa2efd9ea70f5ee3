-- SPDX-License-Identifier: GPL-2.0-or-later
-- jouled schema, version 2: retention and rollups, command lines.
--
-- Rollups live in the same tables as the raw data: a rolled-up interval is a
-- row of `intervals` with level 1 (one minute) or 2 (one hour) covering
-- (start_ns, end_ns] = (bucket start, bucket end]; its samples,
-- sample_domains and interval_domains rows hold the exact SUMS of cpu_ns
-- and of every energy over the raw intervals whose end_ns falls in the
-- bucket (hours are summed from minutes). Raw intervals are level 0.
--
-- daemon/store.c (store_maintain) rolls complete buckets up eagerly and
-- deletes a finer level only once it is both older than its retention and
-- covered by the coarser one. rollup_state says how far that went; readers
-- pick, for every moment, the coarsest bucket that lies wholly inside the
-- queried range (or the only data left), so nothing is counted twice: use
-- STORE_RANGE_SQL() from daemon/store.h instead of a plain end_ns range.

ALTER TABLE intervals ADD COLUMN level INTEGER NOT NULL DEFAULT 0;  -- 0 raw, 1 minute, 2 hour
ALTER TABLE intervals ADD COLUMN n_raw INTEGER;        -- rollups: raw intervals summed (NULL: 1)
ALTER TABLE intervals ADD COLUMN duration_ns INTEGER;  -- rollups: sum of their durations (NULL: end - start)

-- Rollups: the time in the bucket during which the process ran at least
-- once per raw interval (sum of those intervals' durations). NULL on raw rows.
ALTER TABLE samples ADD COLUMN active_ns INTEGER;

-- [Daemon] StoreCommandLine=yes only; NULL otherwise (command lines can hold secrets).
ALTER TABLE processes ADD COLUMN cmdline TEXT;

-- Nothing reads samples by process alone; the index cost a third of the file.
DROP INDEX samples_process;

CREATE INDEX intervals_level_end_ns ON intervals (level, end_ns);

-- One row. minute_done_ns/hour_done_ns: every bucket ending at or before it
-- is rolled up. raw_from_ns/minute_from_ns: rows of that level ending at or
-- before it were pruned (the coarser level holds them).
CREATE TABLE rollup_state (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        minute_done_ns  INTEGER NOT NULL DEFAULT 0,
        hour_done_ns    INTEGER NOT NULL DEFAULT 0,
        raw_from_ns     INTEGER NOT NULL DEFAULT 0,
        minute_from_ns  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO rollup_state (id) VALUES (1);
