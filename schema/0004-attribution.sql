-- SPDX-License-Identifier: GPL-2.0-or-later
-- jouled schema, version 4: wakeups, cgroup path and what it says, irq energy.
--
-- samples.wakeups: voluntary context switches of the process's threads in
-- the interval (each one a sleep that ended in a wakeup); rollups sum them.
ALTER TABLE samples ADD COLUMN wakeups INTEGER NOT NULL DEFAULT 0;

-- processes.cgroup_path: the cgroup v2 path ("/system.slice/sshd.service");
-- slice: the nearest *.slice in it; container_id: the container runtime's id
-- where the path has one (docker-<id>.scope, libpod-, cri-containerd-,
-- crio-, .../docker/<id>, kubepods .../pod<uid>/<id>). processes.unit is
-- then the nearest *.service or *.scope of the path (else the leaf name).
ALTER TABLE processes ADD COLUMN cgroup_path TEXT;
ALTER TABLE processes ADD COLUMN slice TEXT;
ALTER TABLE processes ADD COLUMN container_id TEXT;

-- interval_domains.irq_j: the part of unattributed_j that is the dynamic
-- energy of interrupt and softirq time (/proc/stat irq + softirq on the
-- domain's CPUs), shown as the "[irq]" row of reports. 0 when unknown.
ALTER TABLE interval_domains ADD COLUMN irq_j REAL NOT NULL DEFAULT 0;
