"""Pure normalisation of what Ceph reports into `schemas.status` types (no I/O: the scanner
reads Ceph and passes the raw results in; `agent/status` imports neither nats nor rados).

What the scanner passes, per scan:

- RBD, per mirrored pool: `mirror_mode_get` -> `pool_summary(mode=...)`;
  `mirror_image_status_summary` -> `pool_summary(summary_pairs=...)`; `mirror_image_info_list`
  (image id -> {mode, primary}) and `mirror_image_status_list` -> `image_status(entry, mode=...,
  primary=..., peer_names=..., previous=<last scan's ImageStatus>, now=...)`.
- rbd-mirror: mgr `service dump` + `service status` -> `rbd_mirror_daemons`, `pool_daemon_health`.
- CephFS: `fs snapshot mirror daemon status` -> `cephfs_mirror_daemons`; the cephfs-mirror asok
  `fs mirror peer status <fs>@<fscid> <peer_uuid>` + snapshot creation times -> `dir_statuses`.
- Schedules: `rbd mirror snapshot schedule list` -> `rbd_schedules`; `fs snap-schedule status`
  -> `fs_schedules`.

RPO lag (`rpo_lag_s`) is the number of seconds of writes the non-primary side may be missing:
`now` minus the newest point in time up to which the non-primary is known to hold everything.
RBD snapshot mode: the `local_snapshot_timestamp` of the non-primary's replay (read on either
side). RBD journal mode: the `last_update` of a status showing the follower caught up (equal
positions, tag included), carried across scans via `previous` while it is behind. CephFS: the
creation time of the last synced snapshot. None when unknown; see `agent.status.rbd` / `.fs`.
"""

from __future__ import annotations

from agent.status.daemons import cephfs_mirror_daemons, pool_daemon_health, rbd_mirror_daemons, worst
from agent.status.description import DescriptionKind, ParsedDescription, parse_description, progress_from_json
from agent.status.fs import dir_status, dir_statuses
from agent.status.pools import image_health, pool_mode, pool_summary
from agent.status.rbd import image_state, image_status, image_status_from_cli, mirror_mode, split_cli_state
from agent.status.schedules import fs_schedules, rbd_schedules, schedule_key

__all__ = [
    "DescriptionKind",
    "ParsedDescription",
    "cephfs_mirror_daemons",
    "dir_status",
    "dir_statuses",
    "fs_schedules",
    "image_health",
    "image_state",
    "image_status",
    "image_status_from_cli",
    "mirror_mode",
    "parse_description",
    "pool_daemon_health",
    "pool_mode",
    "pool_summary",
    "progress_from_json",
    "rbd_mirror_daemons",
    "rbd_schedules",
    "schedule_key",
    "split_cli_state",
    "worst",
]
