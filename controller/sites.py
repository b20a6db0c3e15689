"""Sites as the controller knows them: from their agents' heartbeats (pure; the app feeds it).

A site is alive while its agent's heartbeats keep arriving (within `timeout_s`) and say its
cluster answers. Ages are measured on the controller's monotonic clock from when a heartbeat
arrived, never from the agent's wall clock (the two machines' clocks may disagree); a heartbeat
read back from KV at start-up counts as seen at start-up only if it is recent by its own clock.

For automatic failover it also remembers since when each agent has said its own cluster, or a
peer's, is unreachable (the witness): a verdict has to have held for `down_after`, not just now.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from schemas.ctl import SiteInfo
from schemas.errors import Unavailable
from schemas.ids import SiteName
from schemas.status import Heartbeat


@dataclass
class _Seen:
    hb: Heartbeat
    at: float  # monotonic


class Sites:
    def __init__(self, *, timeout_s: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self.clock = clock
        self._seen: dict[str, _Seen] = {}
        self._cluster_down_since: dict[str, float] = {}
        self._alive_since: dict[str, float] = {}
        self._peer_down_since: dict[tuple[str, str], float] = {}  # (observer, target) -> since

    def observe(self, hb: Heartbeat, *, wall_age_s: float | None = None) -> bool:
        """Record a heartbeat; True when it is news (first one, or the site's key or version
        changed). `wall_age_s`: for a heartbeat read from KV, how old it is by the wall clock."""
        at = self.clock() - (wall_age_s or 0.0)
        old = self._seen.get(hb.site)
        if old is not None and old.at > at:
            return False
        was_alive = old is not None and at - old.at <= self.timeout_s and old.hb.cluster_reachable
        if not hb.cluster_reachable:
            self._alive_since.pop(hb.site, None)
        elif not was_alive or hb.site not in self._alive_since:
            self._alive_since[hb.site] = at
        self._seen[hb.site] = _Seen(hb, at)
        if hb.cluster_reachable:
            self._cluster_down_since.pop(hb.site, None)
        else:
            self._cluster_down_since.setdefault(hb.site, at)
        for target, reachable in hb.peer_reachable.items():
            if reachable is False:
                self._peer_down_since.setdefault((hb.site, target), at)
            else:  # reachable, or not probed yet: the witness has nothing against the target
                self._peer_down_since.pop((hb.site, target), None)
        for observer, target in [k for k in self._peer_down_since if k[0] == hb.site]:
            if target not in hb.peer_reachable:
                del self._peer_down_since[(observer, target)]
        return old is None or (old.hb.public_key, old.hb.version) != (hb.public_key, hb.version)

    def heartbeat(self, site: str) -> Heartbeat | None:
        seen = self._seen.get(site)
        return seen.hb if seen else None

    def age(self, site: str) -> float | None:
        seen = self._seen.get(site)
        return None if seen is None else max(0.0, self.clock() - seen.at)

    def heard(self, site: str) -> bool:
        age = self.age(site)
        return age is not None and age <= self.timeout_s

    def alive(self, site: str) -> bool:
        hb = self.heartbeat(site)
        return self.heard(site) and hb is not None and hb.cluster_reachable

    def lost_for(self, site: str) -> tuple[float, str] | None:
        """How long, as the controller sees it, `site` has been lost, and how; None while alive.
        Silent: since its last heartbeat. Heard but its cluster unreachable: since it first said so."""
        age = self.age(site)
        if age is None:
            return None  # never heard: nothing to have lost
        if age > self.timeout_s:
            return age, f"no heartbeat from its agent for {age:.0f}s"
        since = self._cluster_down_since.get(site)
        if since is not None:
            d = max(0.0, self.clock() - since)
            return d, f"its agent has reported its Ceph cluster unreachable for {d:.0f}s"
        return None

    def alive_for(self, site: str) -> float | None:
        """How long `site` has been alive without a gap; None while it is not alive."""
        since = self._alive_since.get(site)
        if since is None or not self.alive(site):
            return None
        return max(0.0, self.clock() - since)

    def witness(self, observer: str, target: str) -> tuple[bool | None, float]:
        """What `observer`'s agent says of `target`'s cluster: reachable (True/False; None when
        the observer is not heard or has not probed it) and for how long it has said unreachable."""
        if not self.heard(observer):
            return None, 0.0
        hb = self.heartbeat(observer)
        reachable = hb.peer_reachable.get(target) if hb else None
        since = self._peer_down_since.get((observer, target))
        return reachable, (
            max(0.0, self.clock() - since) if since is not None and reachable is False else 0.0
        )

    def why_not_alive(self, site: str) -> str:
        age = self.age(site)
        if age is None:
            return "no heartbeat ever received from its agent"
        if age > self.timeout_s:
            return f"no heartbeat for {age:.0f}s (timeout {self.timeout_s:g}s)"
        return "its agent reports the Ceph cluster unreachable"

    def public_key(self, site: str) -> str:
        hb = self.heartbeat(site)
        if hb is None:
            raise Unavailable(f"no heartbeat from {site}'s agent yet: its public key is unknown", where=site)
        return hb.public_key

    def names(self) -> list[str]:
        return sorted(self._seen)

    def info(self, site: str) -> SiteInfo:
        hb, age = self.heartbeat(site), self.age(site)
        if hb is None:
            return SiteInfo(site=SiteName(site), alive=False)
        return SiteInfo(
            site=hb.site,
            alive=self.alive(site),
            last_seen=time.time() - (age or 0.0),
            age_s=round(age, 1) if age is not None else None,
            version=hb.version,
            public_key=hb.public_key,
            cluster_reachable=hb.cluster_reachable,
            peer_reachable=dict(hb.peer_reachable),
            counts=hb.counts,
            epochs=dict(hb.epochs),
            fenced_groups=list(hb.fenced_groups),
        )
