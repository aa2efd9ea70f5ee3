-- SPDX-License-Identifier: GPL-2.0-or-later
-- jouled schema, version 3: day rollups, pruning of process rows.
--
-- Day rollups (intervals.level 3, one UTC day, summed from hours) need no
-- new column: daemon/store.c rolls days up in order, so every day bucket
-- ending at or before the last level-3 row's end is rolled up (readers:
-- STORE_RANGE_SQL). Day rows are kept as long as hour rows.
--
-- processes.last_ns: the end of the last hour rollup the process had a
-- sample in (NULL: none yet). Once the hour retention has pruned every row
-- that refers to a process, store_maintain() deletes the process row, so a
-- fork storm does not grow the table forever.
ALTER TABLE processes ADD COLUMN last_ns INTEGER;

UPDATE processes SET last_ns = x.m
  FROM (SELECT s.process_id AS pid, max(i.end_ns) AS m
          FROM intervals i JOIN samples s ON s.interval_id = i.id
         WHERE i.level = 2 GROUP BY s.process_id) AS x
 WHERE x.pid = processes.id;
