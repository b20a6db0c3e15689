"""Pool mirroring summary with Ceph's own health rule (src/tools/rbd/action/MirrorPool.cc)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from agent.status._raw import as_int
from agent.status.daemons import worst
from agent.status.rbd import image_state
from schemas.ids import PoolName
from schemas.status import Health, ImageState, ImageStatus, PoolSummary

_POOL_MODES: dict[int, Literal["disabled", "image", "pool"]] = {0: "disabled", 1: "image", 2: "pool"}


def pool_mode(value: object) -> Literal["disabled", "image", "pool"] | None:
    """`RBD_MIRROR_MODE_*` (0 disabled, 1 image, 2 pool) or its name."""
    if isinstance(value, str):
        v = value.strip().lower()
        return "disabled" if v == "disabled" else "image" if v == "image" else "pool" if v == "pool" else None
    n = as_int(value)
    return _POOL_MODES.get(n) if n is not None else None


def image_health(states: Iterable[ImageState]) -> Health:
    """OK; WARNING if any state other than replaying/stopped; ERROR if any error."""
    health = Health.OK
    for state in states:
        if state not in (ImageState.REPLAYING, ImageState.STOPPED):
            health = worst(health, Health.WARNING)
        if state is ImageState.ERROR:
            health = worst(health, Health.ERROR)
    return health


def pool_summary(
    pool: str,
    mode: object,
    summary_pairs: Iterable[tuple[object, object]] | None,
    images: Sequence[ImageStatus] = (),
    *,
    daemon_health: Health = Health.UNKNOWN,
) -> PoolSummary:
    """From `mirror_mode_get(ioctx)` and `mirror_image_status_summary(ioctx)` (`[(state, count)]`).

    Ceph's summary combines both sites' statuses of an image (a primary's `stopped` plus the
    peer's `replaying` count as one `replaying`). When the summary call failed (`None`), the
    counts come from this site's `images` instead. `daemon_health` is `pool_daemon_health(...)`.
    """
    counts: dict[ImageState, int] = {}
    if summary_pairs is not None:
        for state, count in summary_pairs:
            n = as_int(count)
            if n:
                s = image_state(state)
                counts[s] = counts.get(s, 0) + n
    else:
        for img in images:
            counts[img.state] = counts.get(img.state, 0) + 1
    img_health = image_health(counts)
    return PoolSummary(
        pool=PoolName(pool),
        mode=pool_mode(mode),
        health=worst(img_health, daemon_health),
        daemon_health=daemon_health,
        image_health=img_health,
        images_total=sum(counts.values()),
        states={s.value: counts[s] for s in ImageState if s in counts},
    )
