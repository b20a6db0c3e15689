"""The benchmarks' figures (bench/stats.py): medians, ratios, targets, rotation, table and JSON."""

from __future__ import annotations

import json

import pytest

from bench.stats import Row, Target, fmt, median, ratio, report, round_order, table


class TestMedianAndRatio:
    def test_median_of_odd_and_even_counts(self) -> None:
        assert median([3.0, 1.0, 2.0]) == 2.0
        assert median([4.0, 1.0, 2.0, 3.0]) == 2.5

    def test_median_of_nothing_is_none(self) -> None:
        assert median([]) is None

    def test_ratio_is_ours_over_anchor(self) -> None:
        assert ratio(5.0, 100.0) == pytest.approx(0.05)

    @pytest.mark.parametrize("ours,anchor", [(None, 1.0), (1.0, None), (1.0, 0.0)])
    def test_ratio_without_a_side_or_with_a_zero_anchor_is_none(self, ours: float | None,
                                                                anchor: float | None) -> None:
        assert ratio(ours, anchor) is None


class TestTargets:
    def test_faster_needs_the_anchor_to_take_that_many_times_longer(self) -> None:
        t = Target("faster", 20.0)
        assert t.met(5.0, 100.0) is True
        assert t.met(5.1, 100.0) is False

    def test_at_most_compares_ours_over_anchor(self) -> None:
        t = Target("at_most", 1.0)
        assert t.met(10.0, 10.0) is True
        assert t.met(10.5, 10.0) is False

    def test_below_is_absolute_and_ignores_the_anchor(self) -> None:
        t = Target("below", 2.0)
        assert t.met(1.99, None) is True
        assert t.met(2.0, None) is False

    def test_nothing_to_judge_is_none_not_a_pass(self) -> None:
        assert Target("faster", 20.0).met(None, 10.0) is None
        assert Target("at_most", 1.0).met(1.0, None) is None

    def test_texts_say_the_direction(self) -> None:
        assert Target("faster", 20.0).text() == ">= 20x faster"
        assert Target("at_most", 1.0).text() == "<= 1x anchor"
        assert Target("below", 2.0).text() == "< 2"


class TestRoundOrder:
    def test_rotates_so_each_variant_leads_in_turn(self) -> None:
        v = ["a", "b", "c"]
        assert [round_order(v, i)[0] for i in range(4)] == ["a", "b", "c", "a"]

    def test_every_round_runs_every_variant_once(self) -> None:
        v = ["a", "b", "c"]
        assert all(sorted(round_order(v, i)) == v for i in range(5))

    def test_no_variants(self) -> None:
        assert round_order([], 3) == []


class TestRows:
    def row(self) -> Row:
        return Row("P1", "image status", "cephdr", "rbd CLI", "ms", Target("faster", 20.0),
                   ours_samples=[3.0, 2.0, 4.0], anchor_samples=[80.0, 60.0, 70.0], note="a note",
                   refs={"floor": [1.0, 1.5]})

    def test_medians_ratio_and_verdict(self) -> None:
        r = self.row()
        assert (r.ours_median, r.anchor_median) == (3.0, 70.0)
        assert r.ratio == pytest.approx(3 / 70)
        assert r.met is True

    def test_json_form_keeps_samples_and_is_serialisable(self) -> None:
        j = json.loads(json.dumps(self.row().to_json()))
        assert j["ours_samples"] == [3.0, 2.0, 4.0]
        assert j["speedup"] == pytest.approx(70 / 3)
        assert j["target"] == {"kind": "faster", "value": 20.0, "text": ">= 20x faster"}
        assert j["met"] is True
        assert j["refs"]["floor"]["median"] == 1.25

    def test_report_names_the_machine(self) -> None:
        rep = report([self.row()], {"cores": 2}, {"p": "text"})
        assert rep["machine"] == {"cores": 2}
        assert len(rep["rows"]) == 1 and rep["profiles"] == {"p": "text"}


class TestTable:
    def test_one_line_per_row_with_ratio_target_and_verdict(self) -> None:
        missed = Row("P3", "scan", "agent", "cli", "ms", Target("at_most", 1.0),
                     ours_samples=[200.0], anchor_samples=[100.0], errors=["round 0 cli: boom"])
        text = table([TestRows().row(), missed])
        lines = text.splitlines()
        assert lines[0].split()[:3] == ["bench", "case", "ours"]
        p1 = next(ln for ln in lines if ln.startswith("P1"))
        assert "23.3x faster" in p1 and "MET" in p1 and "3/3" in p1
        p3 = next(ln for ln in lines if ln.startswith("P3"))
        assert "2.00x slower" in p3 and "MISSED" in p3
        assert "P1 image status: a note" in text
        assert "P1 image status: floor: median 1.25 ms (n=2)" in text
        assert "P3 scan: round 0 cli: boom" in text

    def test_absolute_rows_have_no_anchor_columns(self) -> None:
        r = Row("P4", "round", "controller CPU", "", "s", Target("below", 2.0), ours_samples=[1.5])
        line = table([r]).splitlines()[2]
        assert "1.50 s" in line and "< 2" in line and "MET" in line

    def test_a_row_without_samples_shows_dashes_not_zero(self) -> None:
        r = Row("P2", "failover", "cephdr", "pool", "s", Target("at_most", 1.0))
        line = table([r]).splitlines()[2]
        assert " - " in line and "MET" not in line


class TestFmt:
    @pytest.mark.parametrize("value,text", [(0.0123, "0.0123"), (1.234, "1.23"), (12.34, "12.3"),
                                            (1234.5, "1,234"), (0.0, "0"), (None, "-")])
    def test_three_significant_digits(self, value: float | None, text: str) -> None:
        assert fmt(value) == text
