"""The plans (controller/ops/plans.py): which steps each operation runs, in which order. The order
rules come from FINDINGS A2 and B.1-B.2: wait for caught up before demoting, the epoch names the new
primary before anything is promoted, an unplanned failover never touches the lost site, a failback
waits for the old primary to be fenced and replaying, CephFS reverses one way per file system."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from ctl_unit_build import (
    FS_MEMBERS,
    RBD_MEMBERS,
    A,
    B,
    both_spec,
    fs_spec,
    persist_steps,
    rbd,
    rbd_spec,
    record,
    spec,
)

from controller.ops import plans
from schemas.ctl import StepRecord
from schemas.group import GroupRecord, GroupSpec

ROOT = Path(__file__).resolve().parents[3]
OP = "op-42"
FINAL = plans.final_snapshot_name(OP)

# mirror snapshot schedules are for snapshot-mode images (journal mode replicates continuously)
SNAPSHOT_MEMBERS = [
    {"pool": m.pool, "images": list(m.images), "mode": m.mode} for m in RBD_MEMBERS if m.mode == "snapshot"
]
SPECS = {"rbd": rbd_spec, "fs": fs_spec, "both": both_spec}
RBD_KINDS = ("rbd", "both")
FS_KINDS = ("fs", "both")
READ_ONLY = ("check.", "wait.", "verify.")


def idx(plan: list[StepRecord], action: str, **match: Any) -> list[int]:
    """Indexes of the steps running `action` whose args contain `match` (site= matches the site)."""
    site = match.pop("site", None)
    return [
        i
        for i, s in enumerate(plan)
        if s.action == action
        and (site is None or s.site == site)
        and all(s.args.get(k) == v for k, v in match.items())
    ]


def one(plan: list[StepRecord], action: str, **match: Any) -> int:
    found = idx(plan, action, **match)
    assert len(found) == 1, f"{action} {match}: {found}"
    return found[0]


def dirs(s: GroupSpec) -> list[tuple[str, str]]:
    return [(m.fs, d) for m in s.fs for d in m.dirs]


def planned(kind: str, *, two_way: bool = True, epoch: int = 3) -> tuple[GroupRecord, list[StepRecord]]:
    rec = record(SPECS[kind](two_way=two_way), epoch=epoch)
    return rec, plans.planned_failover(rec, B, op_id=OP)


# -- every plan -------------------------------------------------------------------------------------


def _all_plans() -> list[tuple[str, list[StepRecord]]]:
    out = []
    for kind, make in SPECS.items():
        for two_way in (True, False):
            s = make(two_way=two_way)
            tag = f"{kind}-{'two' if two_way else 'one'}-way"
            out.append((f"planned-{tag}", plans.planned_failover(record(s), B, op_id=OP)))
            out.append((f"unplanned-{tag}", plans.unplanned_failover(record(s), B)))
            out.append((f"failback-{tag}", plans.failback(record(s, primary=B, owed=A), op_id=OP)))
            out.append((f"reconcile-{tag}", plans.reconcile(record(s))))
            out.append((f"reconcile-owed-{tag}", plans.reconcile(record(s, owed=B))))
    return out


ALL_PLANS = _all_plans()


def _known_actions() -> set[str]:
    """The actions the modules of controller/actions/ register, read from their source (they are
    not imported here: they talk to NATS)."""
    names = set()
    nodes = [
        n for f in (ROOT / "controller" / "actions").glob("*.py") for n in ast.walk(ast.parse(f.read_text()))
    ]
    assert nodes, "no action modules found"
    for node in nodes:
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
            for d in node.decorator_list:
                if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "action":
                    names.add(d.args[0].value)  # type: ignore[attr-defined]
    return names


@pytest.mark.parametrize(("name", "plan"), ALL_PLANS, ids=[n for n, _ in ALL_PLANS])
def test_a_plan_is_plain_data_that_survives_the_store(name: str, plan: list[StepRecord]) -> None:
    assert plan, name
    assert persist_steps(plan) == plan
    assert all(s.state == "pending" and s.attempts == 0 for s in plan)


@pytest.mark.parametrize(("name", "plan"), ALL_PLANS, ids=[n for n, _ in ALL_PLANS])
def test_every_step_names_an_action_the_runner_knows(name: str, plan: list[StepRecord]) -> None:
    known = _known_actions()
    assert len(known) > 10  # the source reading works
    assert {s.action for s in plan} - known == set()


# -- planned failover -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SPECS)
def test_planned_checks_come_first_and_only_read(kind: str) -> None:
    _, plan = planned(kind)
    assert plan[0].action == "check.sites" and plan[0].args["sites"] == [A, B]
    assert plan[1].action == "check.failover"
    assert (plan[1].args["source"], plan[1].args["target"]) == (A, B)
    first_change = next(i for i, s in enumerate(plan) if not s.action.startswith(READ_ONLY))
    assert first_change >= 2
    assert all(s.action.startswith(READ_ONLY) for s in plan[:first_change])


@pytest.mark.parametrize("kind", RBD_KINDS)
def test_planned_waits_for_caught_up_on_the_target_before_the_first_demote(kind: str) -> None:
    rec, plan = planned(kind)
    demotes = idx(plan, "rbd.demote")
    wait = one(plan, "wait.caught_up", site=B)
    assert demotes and wait < min(demotes)
    assert idx(plan, "check.failover")[0] < wait
    assert plan[wait].args["rbd"] == plans.rbd_members(rec.spec)


@pytest.mark.parametrize("kind", RBD_KINDS)
def test_planned_demotes_every_pool_on_the_source_and_promotes_it_plainly_on_the_target(
    kind: str,
) -> None:
    _, plan = planned(kind)
    for m in RBD_MEMBERS:
        d = plan[one(plan, "rbd.demote", site=A, pool=m.pool)]
        p = plan[one(plan, "rbd.promote", site=B, pool=m.pool)]
        assert d.args["images"] == p.args["images"] == list(m.images)
        assert p.args["force"] is False
    assert len(idx(plan, "rbd.demote")) == len(idx(plan, "rbd.promote")) == len(RBD_MEMBERS)


@pytest.mark.parametrize("kind", SPECS)
def test_planned_epoch_comes_after_every_demote_and_before_every_promote(kind: str) -> None:
    _, plan = planned(kind)
    fence = one(plan, "fence.epoch")
    assert all(i < fence for i in idx(plan, "rbd.demote"))
    assert all(i > fence for i in idx(plan, "rbd.promote"))
    # the new primary starts snapshotting only once the epoch names it
    assert all(i > fence for i in idx(plan, "schedule.rbd.add") + idx(plan, "schedule.fs.add"))


@pytest.mark.parametrize("epoch", [0, 3, 41])
def test_planned_epoch_names_the_target_one_past_the_current_epoch_and_clears_owed(epoch: int) -> None:
    _, plan = planned("both", epoch=epoch)
    f = plan[one(plan, "fence.epoch")]
    assert f.site is None
    assert f.args["primary"] == B
    assert f.args["epoch"] == epoch + 1
    assert f.args["clear_owed"] is True
    assert "owed_by" not in f.args
    assert f.point_of_no_return


@pytest.mark.parametrize("kind", RBD_KINDS)
def test_planned_verifies_roles_after_the_promotes(kind: str) -> None:
    _, plan = planned(kind)
    v = one(plan, "verify.roles")
    assert v > max(idx(plan, "rbd.promote"))
    assert (plan[v].args["primary"], plan[v].args["other"]) == (B, A)
    assert not plan[v].args.get("other_optional")


@pytest.mark.parametrize("kind", SPECS)
def test_planned_moves_schedules_from_source_to_target(kind: str) -> None:
    rec, plan = planned(kind)
    sch = rec.spec.schedule
    if kind in RBD_KINDS:
        add = plan[one(plan, "schedule.rbd.add", site=B)]
        assert (add.args["interval"], add.args["start_time"]) == (sch.interval, sch.start_time)
        assert add.args["members"] == SNAPSHOT_MEMBERS
        assert plan[one(plan, "schedule.rbd.remove", site=A)].args["members"] == SNAPSHOT_MEMBERS
    else:
        assert not idx(plan, "schedule.rbd.add") and not idx(plan, "schedule.rbd.remove")
    if kind in FS_KINDS:
        add = plan[one(plan, "schedule.fs.add", site=B)]
        assert (add.args["schedule"], add.args["retention"]) == (sch.fs_schedule, sch.fs_retention)
        one(plan, "schedule.fs.remove", site=A)
    else:
        assert not idx(plan, "schedule.fs.add") and not idx(plan, "schedule.fs.remove")
    assert not [s for s in plan if s.action in ("schedule.rbd.add", "schedule.fs.add") and s.site == A]


def test_schedule_steps_carry_the_groups_own_schedule() -> None:
    s = both_spec(interval="1h", start_time="14:00", fs_interval="2h", fs_retention="24h7d")
    plan = plans.planned_failover(record(s), B, op_id=OP)
    rbd_add = plan[one(plan, "schedule.rbd.add")]
    fs_add = plan[one(plan, "schedule.fs.add")]
    assert (rbd_add.args["interval"], rbd_add.args["start_time"]) == ("1h", "14:00")
    assert (fs_add.args["schedule"], fs_add.args["retention"]) == ("2h", "24h7d")


@pytest.mark.parametrize("kind", FS_KINDS)
def test_planned_fs_final_snapshot_synced_and_source_stopped_before_the_epoch(kind: str) -> None:
    rec, plan = planned(kind)
    fence = one(plan, "fence.epoch")
    for fs, d in dirs(rec.spec):
        snap = one(plan, "fs.snapshot", site=A, fs=fs, path=d, name=FINAL)
        synced = one(plan, "wait.fs_synced", site=A, fs=fs, path=d, name=FINAL)
        stop = one(plan, "fs.dir.remove", site=A, fs=fs, path=d)
        assert snap < synced < stop < fence
    if kind == "both":  # rbd is demoted first: nothing writes on the source any more
        assert max(idx(plan, "rbd.demote")) < min(idx(plan, "fs.snapshot"))


def test_the_final_snapshot_is_named_after_the_operation() -> None:
    s = fs_spec()
    a = plans.planned_failover(record(s), B, op_id="op-1")
    b = plans.planned_failover(record(s), B, op_id="op-2")
    names = {x.args["name"] for x in a if x.action == "fs.snapshot"}
    assert names == {plans.final_snapshot_name("op-1")}
    assert names != {x.args["name"] for x in b if x.action == "fs.snapshot"}


@pytest.mark.parametrize("kind", FS_KINDS)
def test_planned_two_way_reverses_every_fs_member_with_forge(kind: str) -> None:
    rec, plan = planned(kind, two_way=True)
    fence = one(plan, "fence.epoch")
    for m in rec.spec.fs:
        drop = one(plan, "fs.peer.remove", site=A, fs=m.fs, peer_site=B)
        enable = one(plan, "fs.mirror.enable", site=B, fs=m.fs)
        connect = one(plan, "fs.peer.connect", fs=m.fs, source=B, target=A)
        assert plan[connect].site is None
        assert fence < drop < enable < connect
        for d in m.dirs:
            prep = one(plan, "fs.dir.prepare", site=A, fs=m.fs, path=d)
            assert plan[prep].args["method"] == "forge"
            assert plan[prep].args["snapshot"] == FINAL
            assert plan[prep].args["source"] == B
            add = one(plan, "fs.dir.add", site=B, fs=m.fs, path=d)
            # B.1: prepare the old side while the dir is not yet mirrored from the new one
            assert connect < prep < add


@pytest.mark.parametrize("kind", SPECS)
def test_planned_one_way_does_not_mirror_back(kind: str) -> None:
    _, plan = planned(kind, two_way=False)
    for action in ("fs.mirror.enable", "fs.peer.connect", "fs.dir.prepare", "fs.dir.add", "wait.replaying"):
        assert not idx(plan, action), action


@pytest.mark.parametrize("kind", RBD_KINDS)
def test_planned_two_way_rbd_ends_watching_the_old_primary_replay(kind: str) -> None:
    _, plan = planned(kind, two_way=True)
    w = one(plan, "wait.replaying", site=A)
    assert w == len(plan) - 1
    assert plan[w].args["advisory"] is True  # the failover is done by then


@pytest.mark.parametrize("kind", SPECS)
def test_planned_point_of_no_return_is_the_first_change_to_the_source(kind: str) -> None:
    _, plan = planned(kind)
    first = next(i for i, s in enumerate(plan) if s.point_of_no_return)
    # fs only: removing the source's fs schedules comes first (no snapshot may follow the final one)
    expected = "rbd.demote" if kind in RBD_KINDS else "schedule.fs.remove"
    assert plan[first].action == expected
    assert first == min(idx(plan, expected))
    assert all(s.action.startswith(READ_ONLY) for s in plan[:first])


# -- unplanned failover -----------------------------------------------------------------------------


def unplanned(kind: str, *, epoch: int = 3, two_way: bool = True) -> list[StepRecord]:
    return plans.unplanned_failover(record(SPECS[kind](two_way=two_way), epoch=epoch), B)


@pytest.mark.parametrize("kind", SPECS)
def test_unplanned_checks_only_the_target(kind: str) -> None:
    plan = unplanned(kind)
    assert plan[0].action == "check.sites" and plan[0].args["sites"] == [B]
    assert plan[1].action == "check.unplanned" and plan[1].args["target"] == B


@pytest.mark.parametrize("kind", SPECS)
@pytest.mark.parametrize("epoch", [0, 3])
def test_unplanned_fences_the_lost_primary_before_any_promote(kind: str, epoch: int) -> None:
    plan = unplanned(kind, epoch=epoch)
    fence = one(plan, "fence.epoch")
    f = plan[fence]
    assert (f.args["epoch"], f.args["primary"], f.args["owed_by"]) == (epoch + 1, B, A)
    assert not f.args.get("clear_owed")
    assert f.point_of_no_return
    assert next(i for i, s in enumerate(plan) if s.point_of_no_return) == fence
    assert all(s.action.startswith(READ_ONLY) for s in plan[:fence])
    assert all(i > fence for i in idx(plan, "rbd.promote"))


@pytest.mark.parametrize("kind", RBD_KINDS)
def test_unplanned_force_promotes_every_pool_on_the_target(kind: str) -> None:
    plan = unplanned(kind)
    for m in RBD_MEMBERS:
        p = plan[one(plan, "rbd.promote", site=B, pool=m.pool)]
        assert p.args["force"] is True
        assert p.args["images"] == list(m.images)
    v = plan[one(plan, "verify.roles")]
    assert v.args["other_optional"] is True and v.args["primary"] == B


@pytest.mark.parametrize("two_way", [True, False])
@pytest.mark.parametrize("kind", SPECS)
def test_unplanned_runs_nothing_on_the_lost_primary(kind: str, two_way: bool) -> None:
    plan = unplanned(kind, two_way=two_way)
    assert [s.name for s in plan if s.site == A] == []
    assert not idx(plan, "rbd.demote")
    assert not idx(plan, "schedule.rbd.remove") and not idx(plan, "schedule.fs.remove")
    assert not [s for s in plan if s.action.startswith("fs.")]
    adds = [s for s in plan if s.action.startswith("schedule.")]
    assert adds and all(s.site == B and s.action.endswith(".add") for s in adds)


# -- failback ---------------------------------------------------------------------------------------


def failback(kind: str, *, two_way: bool = True, epoch: int = 5) -> list[StepRecord]:
    return plans.failback(record(SPECS[kind](two_way=two_way), primary=B, owed=A, epoch=epoch), op_id=OP)


def test_failback_refuses_a_group_that_owes_nothing() -> None:
    with pytest.raises(ValueError, match="owes no failback"):
        plans.failback(record(both_spec(), primary=B), op_id=OP)


@pytest.mark.parametrize("kind", SPECS)
def test_failback_waits_for_the_old_primary_to_be_fenced_before_changing_anything(kind: str) -> None:
    plan = failback(kind, epoch=5)
    assert plan[0].action == "check.sites" and set(plan[0].args["sites"]) == {A, B}
    fenced = one(plan, "wait.fenced", site=A)
    assert plan[fenced].args["epoch"] == 5
    first_change = next(i for i, s in enumerate(plan) if not s.action.startswith(READ_ONLY))
    assert fenced < first_change


@pytest.mark.parametrize("kind", RBD_KINDS)
def test_failback_resyncs_the_old_primary_and_waits_until_it_replays(kind: str) -> None:
    plan = failback(kind)
    off = one(plan, "schedule.rbd.remove", site=A, members=SNAPSHOT_MEMBERS)
    resync = one(plan, "rbd.resync", site=A)
    assert plan[resync].point_of_no_return
    assert off < resync
    replaying = [i for i in idx(plan, "wait.replaying", site=A) if not plan[i].args.get("advisory")]
    assert len(replaying) == 1 and resync < replaying[0]
    # FINDINGS A2/B.2 trap 2: nothing is demoted or promoted before the old primary replays
    moves = idx(plan, "rbd.demote") + idx(plan, "rbd.promote")
    assert moves and all(i > replaying[0] for i in moves)


@pytest.mark.parametrize("kind", FS_KINDS)
def test_failback_reverses_fs_towards_the_old_primary_with_fresh(kind: str) -> None:
    s = SPECS[kind]()
    plan = failback(kind)
    back = idx(plan, "check.sites")[1]  # the planned failover back starts here
    for m in s.fs:
        for d in m.dirs:
            stop = one(plan, "fs.dir.remove", site=A, fs=m.fs, path=d)
            assert stop < back
        drop = idx(plan, "fs.peer.remove", site=A, fs=m.fs, peer_site=B)
        assert len(drop) == 1 and drop[0] < back
        connect = idx(plan, "fs.peer.connect", fs=m.fs, source=B, target=A)
        assert len(connect) == 1 and connect[0] < back
        for d in m.dirs:
            prep = idx(plan, "fs.dir.prepare", site=A, fs=m.fs, path=d)[0]
            assert (plan[prep].args["method"], plan[prep].args["snapshot"]) == ("fresh", None)
            assert connect[0] < prep < one(plan, "fs.dir.add", site=B, fs=m.fs, path=d) < back
            synced = one(plan, "wait.fs_synced", site=B, fs=m.fs, path=d, name=None)
            assert synced < back
    assert [plan[i].args["method"] for i in idx(plan, "fs.dir.prepare")] == ["fresh"] * len(dirs(s)) + [
        "forge"
    ] * len(dirs(s))


@pytest.mark.parametrize("kind", SPECS)
def test_failback_ends_with_a_planned_failover_back_to_the_old_primary(kind: str) -> None:
    plan = failback(kind, epoch=5)
    back = idx(plan, "check.sites")[1]
    tail = plan[back:]
    assert tail[1].action == "check.failover"
    assert (tail[1].args["source"], tail[1].args["target"]) == (B, A)
    f = tail[one(tail, "fence.epoch")]
    assert (f.args["epoch"], f.args["primary"], f.args.get("clear_owed")) == (6, A, True)
    assert all(s.site != A for s in tail if s.action == "rbd.demote")
    assert all(s.site == A and s.args["force"] is False for s in tail if s.action == "rbd.promote")
    assert [s.site for s in tail if s.action == "schedule.rbd.add" or s.action == "schedule.fs.add"] == [
        A
    ] * ((kind in RBD_KINDS) + (kind in FS_KINDS))
    if kind in RBD_KINDS:  # caught up checked again right before the demote
        assert tail[2].action == "wait.caught_up" and tail[2].site == A
    # the only epoch changes of a failback are that one
    assert len(idx(plan, "fence.epoch")) == 1


@pytest.mark.parametrize("kind", SPECS)
def test_failback_point_of_no_return_comes_after_the_fence_wait(kind: str) -> None:
    plan = failback(kind)
    first = next(i for i, s in enumerate(plan) if s.point_of_no_return)
    assert first > one(plan, "wait.fenced")
    if kind in RBD_KINDS:
        assert plan[first].action == "rbd.resync"


# -- reconcile --------------------------------------------------------------------------------------


@pytest.mark.parametrize("owed", [None, B], ids=["healthy", "owed"])
@pytest.mark.parametrize("kind", SPECS)
def test_reconcile_every_step_after_the_liveness_check_is_tolerant(kind: str, owed: Any) -> None:
    plan = plans.reconcile(record(SPECS[kind](), owed=owed))
    assert plan[0].action == "check.sites"
    assert len(plan) >= 3  # at least the fencing record and a schedule
    assert [s.name for s in plan[1:] if s.args.get("tolerant") is not True] == []
    assert not any(s.point_of_no_return for s in plan)


def test_reconcile_liveness_check_is_tolerant_too() -> None:
    plan = plans.reconcile(record(both_spec()))
    assert plan[0].action == "check.sites"
    assert plan[0].args.get("tolerant") is True


@pytest.mark.parametrize("two_way", [True, False])
def test_reconcile_sets_up_both_sites_when_nothing_is_owed(two_way: bool) -> None:
    s = both_spec(two_way=two_way)
    plan = plans.reconcile(record(s))
    assert plan[0].args["sites"] == [A, B]
    for m in RBD_MEMBERS:
        mode = "pool" if m.whole_pool else "image"
        for site in (A, B):
            one(plan, "rbd.pool.enable", site=site, pool=m.pool, mode=mode)
        c = plan[one(plan, "rbd.peer.connect", pool=m.pool, source=A, target=B)]
        assert c.args["direction"] == ("rx-tx" if two_way else "rx-only")
        assert [plan[i].args["image"] for i in idx(plan, "rbd.image.enable", pool=m.pool, site=A)] == list(
            m.images
        )
        assert all(plan[i].args["mode"] == m.mode for i in idx(plan, "rbd.image.enable", pool=m.pool))
    assert not idx(plan, "rbd.image.enable", site=B)
    for m in FS_MEMBERS:
        one(plan, "fs.mirror.enable", site=A, fs=m.fs)
        one(plan, "fs.peer.connect", fs=m.fs, source=A, target=B)
        for d in m.dirs:
            one(plan, "fs.dir.add", site=A, fs=m.fs, path=d)
    one(plan, "schedule.rbd.add", site=A)
    one(plan, "schedule.rbd.remove", site=B)
    one(plan, "schedule.fs.add", site=A)
    one(plan, "schedule.fs.remove", site=B)


@pytest.mark.parametrize(("epoch", "written"), [(0, 1), (1, 1), (7, 7)])
def test_reconcile_rewrites_the_current_epoch_naming_the_primary(epoch: int, written: int) -> None:
    plan = plans.reconcile(record(both_spec(), primary=B, epoch=epoch))
    f = plan[one(plan, "fence.epoch")]
    assert (f.args["epoch"], f.args["primary"]) == (written, B)
    assert "owed_by" not in f.args and "clear_owed" not in f.args


@pytest.mark.parametrize("two_way", [True, False])
@pytest.mark.parametrize("kind", SPECS)
def test_reconcile_leaves_a_site_that_owes_its_failback_alone(kind: str, two_way: bool) -> None:
    rec = record(SPECS[kind](two_way=two_way), primary=B, owed=A)
    plan = plans.reconcile(rec)
    assert [s.name for s in plan if s.site == A] == []  # no step runs on the owed site
    assert plan[0].args["sites"] == [B]
    assert not idx(plan, "rbd.peer.connect") and not idx(plan, "fs.peer.connect")
    assert not [s for s in plan if s.action.startswith("fs.")]
    assert not [s for s in plan if s.action.startswith("schedule.") and s.action.endswith(".remove")]
    assert A not in {v for s in plan for v in s.args.values() if isinstance(v, str)}
    f = plan[one(plan, "fence.epoch")]
    assert f.args["primary"] == B
    if kind in RBD_KINDS:  # the primary's own side is still repaired
        assert {plan[i].args["pool"] for i in idx(plan, "rbd.pool.enable", site=B)} == {
            m.pool for m in RBD_MEMBERS
        }


def test_reconcile_of_a_whole_pool_member_enables_no_single_image() -> None:
    s = spec(rbd_members=[RBD_MEMBERS[1]])
    plan = plans.reconcile(record(s))
    assert RBD_MEMBERS[1].whole_pool
    assert not idx(plan, "rbd.image.enable")
    assert {plan[i].args["mode"] for i in idx(plan, "rbd.pool.enable")} == {"pool"}


def test_a_journal_only_group_gets_no_rbd_snapshot_schedule() -> None:
    rec = record(spec(rbd_members=[RBD_MEMBERS[1]]))
    for plan in (
        plans.planned_failover(rec, B, op_id=OP),
        plans.unplanned_failover(rec, B),
        plans.reconcile(rec),
        plans.failback(record(rec.spec, primary=B, owed=A), op_id=OP),
    ):
        assert not [s for s in plan if s.action.startswith("schedule.")]


def test_a_pool_with_a_snapshot_and_a_journal_member() -> None:
    """One pool, two members (schemas/group.py allows it): the pool is enabled and peered once,
    each member is demoted/promoted and enabled in its own mode, schedules cover the snapshot one."""
    snap, jrn = rbd("mixed", "s-1", "s-2"), rbd("mixed", "j-1", mode="journal")
    rec = record(spec(rbd_members=[snap, jrn]))
    rc = plans.reconcile(rec)
    assert len(idx(rc, "rbd.pool.enable", site=A)) == len(idx(rc, "rbd.pool.enable", site=B)) == 1
    assert rc[one(rc, "rbd.pool.enable", site=A)].args["mode"] == "image"
    one(rc, "rbd.peer.connect", pool="mixed")
    assert sorted((rc[i].args["image"], rc[i].args["mode"]) for i in idx(rc, "rbd.image.enable")) == [
        ("j-1", "journal"),
        ("s-1", "snapshot"),
        ("s-2", "snapshot"),
    ]
    pf = plans.planned_failover(rec, B, op_id=OP)
    assert sorted(pf[i].args["images"] for i in idx(pf, "rbd.demote", site=A, pool="mixed")) == [
        ["j-1"],
        ["s-1", "s-2"],
    ]
    assert len(idx(pf, "rbd.promote", site=B, pool="mixed")) == 2
    sched = pf[one(pf, "schedule.rbd.add", site=B)]
    assert [m["images"] for m in sched.args["members"]] == [["s-1", "s-2"]]
