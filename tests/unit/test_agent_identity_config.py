"""Pure agent parts: identity file and sealing, config validation, the self-fencing decision,
request de-duplication."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from agent import config as agent_config
from agent.fencing import FenceTarget, fence_targets, pools_of
from agent.identity import Identity
from bus.dedupe import Deduper
from schemas.errors import Busy, Conflict, InvalidRequest, NotFound
from schemas.fencing import FenceMember, FenceRecord
from schemas.ids import ImageName, PoolName, SiteName


def test_identity_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "agent.key"
    first = Identity.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Identity.load_or_create(path).public_key == first.public_key


def test_identity_tightens_a_readable_key_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.key"
    Identity.load_or_create(path)
    path.chmod(0o644)
    Identity.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_sealed_token_opens_only_for_the_recipient_from_the_sender(tmp_path: Path) -> None:
    a, b, mallory = (Identity.load_or_create(tmp_path / f"{n}.key") for n in "abm")
    blob = a.seal(b"the cephx key", b.public_key)
    assert b"the cephx key" not in blob.encode()
    assert b.open(blob, a.public_key) == b"the cephx key"
    with pytest.raises(InvalidRequest, match="authentication"):
        b.open(blob, mallory.public_key)  # not from whom it claims
    with pytest.raises(InvalidRequest, match="authentication"):
        mallory.open(blob, a.public_key)  # not for mallory
    forged = mallory.seal(b"evil token", b.public_key)
    with pytest.raises(InvalidRequest):
        b.open(forged, a.public_key)


def test_bad_public_key_is_a_clear_error(tmp_path: Path) -> None:
    a = Identity.load_or_create(tmp_path / "a.key")
    with pytest.raises(InvalidRequest) as e:
        a.seal(b"x", "not-a-key")
    assert e.value.where == "$.recipient_public_key"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('site = "site-a"\n[ceph]\nconff = "x"\n', "unknown field `conff`"),
        ('site = "Site A"\n', "site"),
        ('site = "site-a"\n[status]\ninterval = 0\n', "interval"),
        ("site = \n", "not valid TOML"),
        ("[nats]\n", "missing required field `site`"),
    ],
)
def test_bad_agent_config_names_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    p = tmp_path / "agent.toml"
    p.write_text(text)
    with pytest.raises(InvalidRequest) as e:
        agent_config.load(p)
    assert fragment in e.value.message
    assert str(p) in e.value.message


def test_agent_config_round_trips_through_toml(tmp_path: Path) -> None:
    cfg = agent_config.AgentConfig(
        site=SiteName("site-a"), status=agent_config.StatusConfig(pools=[PoolName("rbd")])
    )
    p = tmp_path / "a.toml"
    p.write_text(agent_config.dump(cfg))
    assert agent_config.load(p) == cfg


def _rec(group: str, primary: str, images: list[str], epoch: int = 1) -> FenceRecord:
    return FenceRecord(
        group=group,  # type: ignore[arg-type]
        epoch=epoch,
        primary=primary,  # type: ignore[arg-type]
        rbd=[FenceMember(pool=PoolName("rbd"), images=[ImageName(i) for i in images])],
    )


def test_fencing_demotes_only_what_another_site_owns_and_is_primary_here() -> None:
    here = SiteName("site-a")
    primary_here = {PoolName("rbd"): {ImageName("vm1"), ImageName("vm2"), ImageName("other")}}
    records = [_rec("g1", "site-b", ["vm1", "vm3"], epoch=4), _rec("g2", "site-a", ["vm2"])]
    assert fence_targets(here, records, primary_here) == [
        FenceTarget("g1", 4, PoolName("rbd"), ImageName("vm1"))
    ]
    assert pools_of(records, here) == {PoolName("rbd")}
    assert fence_targets(here, [_rec("g2", "site-a", ["vm2"])], primary_here) == []


def test_fencing_an_image_claimed_by_two_groups_errs_on_the_safe_side() -> None:
    here = SiteName("site-a")
    records = [_rec("g1", "site-a", ["vm1"]), _rec("g2", "site-b", ["vm1"])]
    targets = fence_targets(here, records, {PoolName("rbd"): {ImageName("vm1")}})
    assert [t.image for t in targets] == ["vm1"]


async def test_dedupe_acts_once_and_forgets_retryable_failures() -> None:
    d = Deduper()
    calls = 0

    async def act() -> bytes:
        nonlocal calls
        calls += 1
        return b"ok"

    fp = Deduper.fingerprint(b"req")
    assert await d.run("ep", "r1", fp, act) == b"ok"
    assert await d.run("ep", "r1", fp, act) == b"ok"
    assert calls == 1
    with pytest.raises(Conflict):
        await d.run("ep", "r1", Deduper.fingerprint(b"other"), act)

    async def busy() -> bytes:
        raise Busy("later")

    with pytest.raises(Busy):
        await d.run("ep", "r2", fp, busy)
    assert await d.run("ep", "r2", fp, act) == b"ok"  # retried: acted

    async def missing() -> bytes:
        raise NotFound("gone")

    with pytest.raises(NotFound):
        await d.run("ep", "r3", fp, missing)
    with pytest.raises(NotFound):
        await d.run("ep", "r3", fp, act)  # remembered: not acted again
    assert calls == 2


async def test_dedupe_concurrent_repeat_waits_for_the_first() -> None:
    d = Deduper()
    gate = asyncio.Event()
    calls = 0

    async def slow() -> bytes:
        nonlocal calls
        calls += 1
        await gate.wait()
        return b"done"

    fp = Deduper.fingerprint(b"x")
    first = asyncio.create_task(d.run("ep", "r", fp, slow))
    await asyncio.sleep(0)
    second = asyncio.create_task(d.run("ep", "r", fp, slow))
    await asyncio.sleep(0)
    gate.set()
    assert await first == await second == b"done"
    assert calls == 1
