"""RBD image status: from `rbd.RBD().mirror_image_status_list(ioctx)` entries (or the CLI JSON).

RPO lag of an image (`ImageStatus.rpo_lag_s`) is the age of the newest point in time the
non-primary side is known to hold all of the primary's data:

- snapshot mode: `now - local_snapshot_timestamp`, read from the non-primary's own `replaying`
  description (on the non-primary site) or from the peer's one in `remote_statuses` /
  `peer_sites` (on the primary site; with several peers, the oldest = the worst).
- journal mode: when the replaying status shows the follower caught up (equal positions, tag
  included), the follower held everything at that status' `last_update`, so the lag is
  `now - last_update`. When it is behind, the lag is `now - last_caught_up_at` carried over from
  the previous scan (`previous`), or None when this agent never saw it caught up.
- None when the reporting status is down, not replaying, or says nothing usable. Never negative
  (two sites' clocks are not in step).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.status._raw import as_bool, as_dict, as_int, as_list, as_str, lag, timestamp
from agent.status.description import DescriptionKind, ParsedDescription, parse_description
from schemas.ids import ImageName, PoolName
from schemas.status import ImageState, ImageStatus, MirrorMode, PeerSiteStatus, Role

_STATES: tuple[ImageState, ...] = tuple(ImageState)
_NON_PRIMARY_KINDS = {
    DescriptionKind.REPLAYING,
    DescriptionKind.BOOTSTRAPPING,
    DescriptionKind.SYNCING,
    DescriptionKind.REMOTE_NON_PRIMARY,
    DescriptionKind.SPLIT_BRAIN,
}
# the follower's data survives these; a (re)sync or an error may have replaced the local image
_KEEPS_CAUGHT_UP_HINT = {ImageState.REPLAYING, ImageState.STARTING_REPLAY, ImageState.STOPPING_REPLAY}


def image_state(value: object) -> ImageState:
    """The librbd state from its number (0..6) or name; anything else is `unknown`."""
    n = as_int(value) if not isinstance(value, str) or value.strip().isdigit() else None
    if n is not None:
        return _STATES[n] if 0 <= n < len(_STATES) else ImageState.UNKNOWN
    if isinstance(value, str):
        try:
            return ImageState(value.strip().lower())
        except ValueError:
            return ImageState.UNKNOWN
    return ImageState.UNKNOWN


def mirror_mode(value: object) -> MirrorMode | None:
    """`RBD_MIRROR_IMAGE_MODE_*` (0 journal, 1 snapshot) or its name."""
    if isinstance(value, MirrorMode):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return {0: MirrorMode.JOURNAL, 1: MirrorMode.SNAPSHOT}.get(value)
    if isinstance(value, str):
        try:
            return MirrorMode(value.strip().lower())
        except ValueError:
            return None
    return None


def split_cli_state(value: object) -> tuple[bool, ImageState]:
    """`"up+replaying"` -> (True, replaying); `"down+unknown"` -> (False, unknown)."""
    text = value.strip().lower() if isinstance(value, str) else ""
    up, _, name = text.partition("+")
    if not name:
        return False, image_state(text)
    return up == "up", image_state(name)


@dataclass(frozen=True, slots=True)
class _Site:
    """One site's view (local or a peer), before normalisation."""

    state: ImageState
    up: bool
    description: str
    last_update: float | None
    parsed: ParsedDescription
    site_name: str | None = None
    mirror_uuid: str | None = None


def _site(state: ImageState, up: bool, description: object, last_update: object, **kw: Any) -> _Site:
    text = description if isinstance(description, str) else ""
    return _Site(state, up, text, timestamp(last_update), parse_description(text), **kw)


def image_status(
    raw: Mapping[str, Any],
    *,
    pool: str,
    mode: MirrorMode | str | int | None = None,
    primary: bool | None = None,
    now: float,
    peer_names: Mapping[str, str] | None = None,
    default_peer_site: str | None = None,
    previous: ImageStatus | None = None,
) -> ImageStatus:
    """Normalise one entry of `mirror_image_status_list(ioctx)` (16.2.15 binding shape).

    `mode` and `primary` come from `mirror_image_info_list(ioctx)` (joined on the image id):
    the status iterator has no `primary` (rbd.pyx: "always false"). `peer_names` maps a remote
    status' `mirror_uuid` (the peer pool's `mirror_uuid_get`) to its site name; in 16.2.15
    `mirror_peer_list` shows `mirror_uuid: ''` for bootstrapped rx-tx peers, so when a pool has
    one peer pass its name as `default_peer_site`. `previous` is this image's status from the
    last scan (carries the journal-mode "last seen caught up" time).
    """
    peers: list[_Site] = []
    remotes = [as_dict(r) for r in as_list(raw.get("remote_statuses"))]
    for r in remotes:
        uuid = as_str(r.get("mirror_uuid")) or None
        name = (peer_names or {}).get(uuid or "") or (default_peer_site if len(remotes) == 1 else None)
        peers.append(
            _site(
                image_state(r.get("state")),
                as_bool(r.get("up")) is True,
                r.get("description"),
                r.get("last_update"),
                site_name=name,
                mirror_uuid=uuid,
            )
        )
    has_local = "state" in raw or "up" in raw
    local = _site(
        image_state(raw.get("state")) if has_local else ImageState.UNKNOWN,
        as_bool(raw.get("up")) is True,
        raw.get("description") if has_local else "status not found",
        raw.get("last_update"),
    )
    info = as_dict(raw.get("info"))
    if primary is None:
        primary = as_bool(info.get("primary")) if "primary" in info else None
    return _build(
        pool=pool,
        image=as_str(raw.get("name")) or "",
        global_id=as_str(info.get("global_id")) or "",
        local=local,
        peers=peers,
        mode=mirror_mode(mode),
        primary=primary,
        daemon_id=as_str(as_dict(raw.get("daemon_service")).get("daemon_id")),
        now=now,
        previous=previous,
    )


def image_status_from_cli(
    raw: Mapping[str, Any],
    *,
    pool: str,
    mode: MirrorMode | str | int | None = None,
    primary: bool | None = None,
    now: float,
    previous: ImageStatus | None = None,
) -> ImageStatus:
    """Normalise `rbd mirror image status --format json` (or one `images[]` entry of
    `rbd mirror pool status --verbose --format json`): `"state": "up+replaying"`, `peer_sites`."""
    up, state = split_cli_state(raw.get("state"))
    local = _site(state, up, raw.get("description"), raw.get("last_update"))
    peers = []
    for p in (as_dict(x) for x in as_list(raw.get("peer_sites"))):
        p_up, p_state = split_cli_state(p.get("state"))
        uuids = p.get("mirror_uuids")  # a single uuid string despite the plural (B.3)
        uuid = uuids if isinstance(uuids, str) else next(iter(as_list(uuids)), None)
        peers.append(
            _site(
                p_state,
                p_up,
                p.get("description"),
                p.get("last_update"),
                site_name=as_str(p.get("site_name")),
                mirror_uuid=as_str(uuid) or None,
            )
        )
    if primary is None and as_list(raw.get("snapshots")):
        primary = True  # `snapshots` is listed only where the image is primary
    return _build(
        pool=pool,
        image=as_str(raw.get("name")) or "",
        global_id=as_str(raw.get("global_id")) or "",
        local=local,
        peers=peers,
        mode=mirror_mode(mode),
        primary=primary,
        daemon_id=as_str(as_dict(raw.get("daemon_service")).get("daemon_id")),
        now=now,
        previous=previous,
    )


def _role(primary: bool | None, local: _Site) -> Role:
    if primary is not None:
        return Role.PRIMARY if primary else Role.NON_PRIMARY
    if local.parsed.kind is DescriptionKind.LOCAL_PRIMARY:
        return Role.PRIMARY
    if local.parsed.kind in _NON_PRIMARY_KINDS or local.state in (ImageState.REPLAYING, ImageState.SYNCING):
        return Role.NON_PRIMARY
    return Role.UNKNOWN


def _follower_caught_up(site: _Site) -> bool | None:
    """Is this (non-primary) view replaying and caught up? None when it cannot tell."""
    if not site.up:
        return None
    if site.state is ImageState.REPLAYING:
        return site.parsed.progress.caught_up if site.parsed.progress else None
    if site.state in (ImageState.SYNCING, ImageState.ERROR, ImageState.STARTING_REPLAY):
        return False
    return None


def _all(values: Sequence[bool | None]) -> bool | None:
    if not values or any(v is False for v in values):
        return False if values else None
    return True if all(values) else None


def _build(
    *,
    pool: str,
    image: str,
    global_id: str,
    local: _Site,
    peers: list[_Site],
    mode: MirrorMode | None,
    primary: bool | None,
    daemon_id: str | None,
    now: float,
    previous: ImageStatus | None,
) -> ImageStatus:
    role = _role(primary, local)
    followers = peers if role is Role.PRIMARY else [local] if role is Role.NON_PRIMARY else []
    replaying = [s for s in followers if s.up and s.state is ImageState.REPLAYING and s.parsed.progress]
    if mode is None:
        seen = [
            s.parsed.progress.mode
            for s in (local, *peers)
            if s.parsed.kind is DescriptionKind.REPLAYING and s.parsed.progress
        ]
        mode = seen[0] if seen else (previous.mode if previous else None)
    caught_up = _all([_follower_caught_up(s) for s in followers]) if followers else None

    last_snap: float | None = None
    caught_up_at: float | None = None
    rpo: float | None = None
    if mode is MirrorMode.SNAPSHOT or (mode is None and replaying):
        stamps = [s.parsed.progress.local_snapshot_timestamp for s in followers if s.parsed.progress]
        known = [t for t in stamps if t is not None]
        last_snap = min(known) if known and len(known) == len(stamps) else None
        if replaying and len(replaying) == len(followers):
            rpo = lag(now, last_snap)
    if mode is MirrorMode.JOURNAL:
        if caught_up and replaying and len(replaying) == len(followers):
            stamps_j = [s.last_update for s in replaying]
            caught_up_at = min(t for t in stamps_j if t is not None) if None not in stamps_j else None
        elif (
            previous is not None
            and previous.role is role
            and previous.global_id == global_id
            and followers
            and all(s.state in _KEEPS_CAUGHT_UP_HINT for s in followers)
        ):
            caught_up_at = previous.last_caught_up_at
        if replaying and len(replaying) == len(followers):
            rpo = lag(now, caught_up_at)

    peer_status = [
        PeerSiteStatus(
            site_name=p.site_name,
            mirror_uuid=p.mirror_uuid,
            state=p.state,
            up=p.up,
            description=p.description,
            last_update=p.last_update,
            progress=p.parsed.progress,
            split_brain=p.parsed.split_brain,
        )
        for p in peers
    ]
    alerts = _alerts(role, local, peers)
    return ImageStatus(
        pool=PoolName(pool),
        image=ImageName(image),
        global_id=global_id,
        mode=mode,
        role=role,
        state=local.state,
        up=local.up,
        healthy=not alerts,
        description=local.description,
        progress=local.parsed.progress,
        split_brain=local.parsed.split_brain,
        caught_up=caught_up,
        last_synced_snapshot_at=last_snap,
        last_caught_up_at=caught_up_at,
        rpo_lag_s=rpo,
        last_update=local.last_update,
        daemon_id=daemon_id,
        peers=peer_status,
        alerts=alerts,
    )


def _alerts(role: Role, local: _Site, peers: list[_Site]) -> list[str]:
    """Short alert codes (`code` or `code:detail`); empty means healthy."""
    out: list[str] = []
    kind = local.parsed.kind
    # a primary is protected by the peer's rbd-mirror; its own daemon being down shows in the
    # daemon and pool health, not as an alert on every primary image
    if role is not Role.PRIMARY and kind is DescriptionKind.NOT_FOUND:
        out.append("status_not_found")
    elif role is not Role.PRIMARY and not local.up:
        out.append("down")
    if local.parsed.split_brain:
        out.append("split_brain")
    elif local.state is ImageState.ERROR:
        out.append(f"error:{local.description}" if local.description else "error")
    if role is Role.UNKNOWN:
        out.append("role_unknown")
    elif role is Role.PRIMARY:
        if not peers:
            out.append("no_peer_status")
        for p in peers:
            who = p.site_name or p.mirror_uuid or "?"
            if p.parsed.kind is DescriptionKind.LOCAL_PRIMARY:
                out.append(f"both_primary:{who}")
            elif p.parsed.split_brain:
                out.append(f"peer_split_brain:{who}")
            elif not p.up:
                out.append(f"peer_down:{who}")
            elif p.state is not ImageState.REPLAYING:
                out.append(f"peer_{p.state.value}:{who}")
    elif local.up and local.state not in (ImageState.REPLAYING, ImageState.ERROR):
        remote_np = kind is DescriptionKind.REMOTE_NON_PRIMARY
        out.append("no_primary" if remote_np else f"not_replaying:{local.state}")
    return out
