"""The benchmark figures: medians, ratios, targets, the summary table and its JSON form (pure).

A `Row` is one comparison measured in one run: our samples and the anchor's samples of the same
thing, taken alternately (`round_order`), so a machine that gets busier during the run slows both
sides alike. The ratio is always ours / anchor (below 1 = we are faster); `speedup` is its inverse.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

TargetKind = Literal["faster", "at_most", "below"]


@dataclass(frozen=True)
class Target:
    """faster: anchor/ours >= value; at_most: ours/anchor <= value; below: ours < value (absolute)."""

    kind: TargetKind
    value: float

    def text(self) -> str:
        if self.kind == "faster":
            return f">= {self.value:g}x faster"
        if self.kind == "at_most":
            return f"<= {self.value:g}x anchor"
        return f"< {self.value:g}"

    def met(self, ours: float | None, anchor: float | None) -> bool | None:
        """None when there is nothing to judge (a side has no sample)."""
        if ours is None:
            return None
        if self.kind == "below":
            return ours < self.value
        if anchor is None:
            return None
        if self.kind == "faster":
            return ours > 0 and anchor / ours >= self.value
        return anchor > 0 and ours / anchor <= self.value


def median(samples: list[float]) -> float | None:
    return statistics.median(samples) if samples else None


def ratio(ours: float | None, anchor: float | None) -> float | None:
    """ours / anchor; None when either is missing or the anchor is 0."""
    if ours is None or anchor is None or anchor == 0:
        return None
    return ours / anchor


def round_order(variants: list[str], round_index: int) -> list[str]:
    """The order of the variants in one round: rotated each round, so none is always first (a
    warm cache, or a lab still settling from the previous variant, favours no one)."""
    if not variants:
        return []
    k = round_index % len(variants)
    return variants[k:] + variants[:k]


@dataclass
class Row:
    bench: str  # "P1"
    case: str  # "image status"
    ours: str  # "cephdr"
    anchor: str  # "rbd CLI"; "" for an absolute figure
    unit: str  # "ms", "s", "MiB", "B/s"
    target: Target | None = None
    ours_samples: list[float] = field(default_factory=list)
    anchor_samples: list[float] = field(default_factory=list)
    note: str = ""
    errors: list[str] = field(default_factory=list)
    # reference figures measured in the same rounds (e.g. the bare librbd call: the floor)
    refs: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ours_median(self) -> float | None:
        return median(self.ours_samples)

    @property
    def anchor_median(self) -> float | None:
        return median(self.anchor_samples)

    @property
    def ratio(self) -> float | None:
        return ratio(self.ours_median, self.anchor_median)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.ours_median, self.anchor_median)

    def to_json(self) -> dict[str, Any]:
        r = self.ratio
        return {
            "bench": self.bench,
            "case": self.case,
            "ours": self.ours,
            "anchor": self.anchor,
            "unit": self.unit,
            "ours_samples": self.ours_samples,
            "anchor_samples": self.anchor_samples,
            "ours_median": self.ours_median,
            "anchor_median": self.anchor_median,
            "ratio": r,
            "speedup": None if not r else 1 / r,
            "target": None if self.target is None else {
                "kind": self.target.kind, "value": self.target.value, "text": self.target.text()},
            "met": self.met,
            "note": self.note,
            "errors": self.errors,
            "refs": {k: {"samples": v, "median": median(v)} for k, v in self.refs.items()},
        }


def fmt(value: float | None, unit: str = "") -> str:
    """A figure with 3 significant digits (no scientific notation below 1e6)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        text = "0"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    else:
        digits = max(0, 2 - math.floor(math.log10(abs(value))))
        text = f"{value:.{digits}f}"
    return f"{text} {unit}".rstrip()


def _ratio_text(row: Row) -> str:
    r = row.ratio
    if r is None:
        return "-"
    if r < 1:
        return f"{1 / r:.1f}x faster"
    return f"{r:.2f}x slower" if r > 1 else "same"


def _met_text(met: bool | None) -> str:
    return {True: "MET", False: "MISSED", None: "-"}[met]


HEADERS = ["bench", "case", "ours", "median", "anchor", "median", "ours vs anchor", "target", "met", "n"]


def table(rows: list[Row]) -> str:
    """The summary table, plain text, one line per row (notes and errors below it)."""
    body = []
    for r in rows:
        body.append([
            r.bench, r.case, r.ours, fmt(r.ours_median, r.unit), r.anchor or "-",
            fmt(r.anchor_median, r.unit) if r.anchor else "-", _ratio_text(r) if r.anchor else "-",
            r.target.text() if r.target else "-", _met_text(r.met),
            f"{len(r.ours_samples)}/{len(r.anchor_samples)}" if r.anchor else str(len(r.ours_samples)),
        ])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip() for b in body]
    notes = [f"  {r.bench} {r.case}: {r.note}" for r in rows if r.note]
    notes += [f"  {r.bench} {r.case}: {name}: median {fmt(median(v), r.unit)} (n={len(v)})"
              for r in rows for name, v in r.refs.items()]
    errors = [f"  {r.bench} {r.case}: {e}" for r in rows for e in r.errors]
    if notes:
        lines += ["", "notes:", *notes]
    if errors:
        lines += ["", "errors:", *errors]
    return "\n".join(lines)


def report(rows: list[Row], machine: dict[str, Any],
           profiles: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON report: the machine it ran on, every row with its samples, and profiles of misses."""
    return {"machine": machine, "rows": [r.to_json() for r in rows], "profiles": profiles or {}}
