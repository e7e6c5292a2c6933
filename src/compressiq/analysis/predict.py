"""Where a new model lands on the paper's lines: the score each predicts, with a 95 % prediction interval.

A prediction interval is for one new model's score, not for the line: it adds the scatter of the
models about the line to the line's own uncertainty (``stats.band`` is the line's alone, without
the leading 1):

    ŷ ± t(n - 2) · s · sqrt(1 + 1/n + (x₀ - x̄)² / Σ(x - x̄)²),   s² = Σ residual² / (n - 2).

A stored run is comparable to the published BPC only if it was measured as they were: on the
paper's corpus, which is recognised by name, the hub dataset ``hkust-nlp/llm-compression`` (any
subset, ``hkust-nlp/llm-compression:cc`` and the like), and with ``--protocol paper``. A local copy
of that dataset has another name and is not recognised: nothing in a file says it is the paper's
text. Other runs are refused unless the caller allows them; then each is marked, everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from compressiq.analysis.paper import OVERALL, Recomputed
from compressiq.analysis.scores import AREAS
from compressiq.analysis.stats import LEVEL, Array, Interval, Line
from compressiq.core.store import RunRow
from compressiq.errors import CompressiqError, missing_extra

PAPER_CORPUS = "hkust-nlp/llm-compression"
ALLOW = "--allow-other-corpus"


@dataclass(frozen=True)
class Placement:
    """One stored run on one line: its BPC, both fits' predictions, the real score if given, a mark."""

    model: str
    run_id: str
    area: str
    subset: str
    bpc: float
    linear: Interval
    logarithmic: Interval
    actual: float | None
    comparable: bool
    note: str  # why the run is not comparable to the published BPC, or that it is incomplete

    @property
    def residual(self) -> float | None:
        """Real score minus the line's prediction: positive means better than the line predicts."""
        return None if self.actual is None else self.actual - self.linear.value


def prediction(bpc: Array, score: Array, line: Line, at: float, level: float = LEVEL) -> Interval:
    """The line's score at BPC ``at`` and its prediction interval for a new model (see the module).

    Worked example: bpc = [1, 2, 3, 4], score = [2, 3, 5, 6] fit slope 1.4, intercept 0.5, residuals
    [0.1, -0.3, 0.3, -0.1], s = sqrt(0.2 / 2); at 5: ŷ = 7.5, s · sqrt(1 + 1/4 + 2.5² / 5) = 0.5,
    t(2) = 4.303, so 7.5 ± 2.151.
    """
    try:
        from scipy.stats import t as student
    except ImportError as e:
        raise missing_extra("scipy", "analysis") from e
    n = len(bpc)
    if n < 3:
        raise CompressiqError(f"a prediction interval needs at least 3 models, got {n}")
    if line.log and at <= 0:
        raise CompressiqError("a logarithmic fit predicts only for a positive BPC")
    x, x0 = (np.log(bpc), math.log(at)) if line.log else (bpc, at)
    s = math.sqrt(float(np.sum((score - line(bpc)) ** 2)) / (n - 2))
    spread = math.sqrt(1 + 1 / n + (x0 - x.mean()) ** 2 / float(((x - x.mean()) ** 2).sum()))
    half = float(student.ppf((1 + level) / 2, n - 2)) * s * spread
    centre = float(line(np.array([at]))[0])
    return Interval(centre, centre - half, centre + half, level)


def not_comparable(run: RunRow) -> str:
    """Why ``run``'s BPC cannot stand beside the published BPC; empty when it can."""
    why = []
    if run.corpus.partition(":")[0] != PAPER_CORPUS:
        why.append(f"corpus {run.corpus} is not the paper's {PAPER_CORPUS}")
    protocol = run.settings.get("protocol", "exact")
    if protocol != "paper":
        why.append(f"protocol {protocol}, not --protocol paper")
    return "; ".join(why)


def check_comparable(runs: Sequence[RunRow], allow_other: bool, where: str) -> None:
    """Refuse, in one line naming each run and why, runs not comparable to the published BPC."""
    if not runs:
        raise CompressiqError(
            f"no stored runs in {where}: score a model with --corpus {PAPER_CORPUS}:cc --protocol paper first"
        )
    bad = [f"{r.model} (run {r.run_id[:8]}: {why})" for r in runs if (why := not_comparable(r))]
    if bad and not allow_other:
        raise CompressiqError(
            f"not comparable to the published BPC, so not placed: {'; '.join(bad)}; "
            f"pass {ALLOW} to place them anyway, marked as not comparable"
        )


def place(
    runs: Sequence[RunRow], lines: Sequence[Recomputed], actual: Mapping[str, Mapping[str, float]]
) -> list[Placement]:
    """Each run on each line whose subset(s) it has; ``actual`` is area -> model -> real score (0-1).

    The overall line (Figure 1) takes the mean of the run's three BPCs and of its three area scores.
    """
    out = []
    for run in runs:
        bpcs = {s: t.bpc for s, t in run.subsets.items() if t.characters}
        why = not_comparable(run)
        marks = ["not comparable: " + why if why else "", "" if run.complete else "incomplete run"]
        for fit in lines:
            s = fit.series
            x = _x(s.area, bpcs)
            if x is None:
                continue
            linear = prediction(s.bpc, s.score, fit.linear, x)
            log = prediction(s.bpc, s.score, fit.logarithmic, x)
            outside = f"extrapolated: BPC outside the paper's {s.bpc.min():.3f}-{s.bpc.max():.3f}"
            note = "; ".join(m for m in [*marks, outside if not s.bpc.min() <= x <= s.bpc.max() else ""] if m)
            act = _actual(s.area, run.model, actual)
            out.append(Placement(run.model, run.run_id, s.area, s.subset, x, linear, log, act, not why, note))
    return out


def _x(area: str, bpcs: Mapping[str, float]) -> float | None:
    if area != OVERALL:
        return bpcs.get(AREAS[area])
    return float(np.mean([bpcs[s] for s in AREAS.values()])) if all(s in bpcs for s in AREAS.values()) else None


def _actual(area: str, model: str, actual: Mapping[str, Mapping[str, float]]) -> float | None:
    if area != OVERALL:
        return actual.get(area, {}).get(model)
    values = [v for a in AREAS if (v := actual.get(a, {}).get(model)) is not None]
    return float(np.mean(values)) if len(values) == len(AREAS) else None


def check_scale(actual: Mapping[str, Mapping[str, float]]) -> None:
    """The paper's lines are on a 0-1 scale: refuse area scores outside it (percentages, say)."""
    bad = [f"{m} {a} {v:g}" for a, models in actual.items() for m, v in models.items() if not 0 <= v <= 1]
    if bad:
        raise CompressiqError(f"scores must be on a 0–1 scale, like the paper's lines: {'; '.join(bad)}")


def records(placed: Sequence[Placement]) -> list[dict[str, object]]:
    """Placements as rows for ``tables.render`` and JSON."""
    return [
        {
            "model": p.model,
            "area": p.area,
            "subset": p.subset,
            "bpc": p.bpc,
            "predicted": p.linear.value,
            "low": p.linear.low,
            "high": p.linear.high,
            "predicted_log": p.logarithmic.value,
            "actual": p.actual,
            "residual": p.residual,
            "comparable": p.comparable,
            "note": p.note,
            "run": p.run_id,
        }
        for p in placed
    ]


def display(placed: Sequence[Placement]) -> list[dict[str, str]]:
    """Placements as text: the line's prediction with its interval, the log fit's, the residual."""
    level = f"{placed[0].linear.level:.0%}" if placed else f"{LEVEL:.0%}"
    return [
        {
            "model": p.model,
            "area": p.area,
            "subset": p.subset,
            "BPC": f"{p.bpc:.4f}",
            "predicted": f"{p.linear.value:.3f}",
            f"{level} prediction interval": f"[{p.linear.low:.3f}, {p.linear.high:.3f}]",
            "log fit": f"{p.logarithmic.value:.3f}",
            "actual": "" if p.actual is None else f"{p.actual:.3f}",
            "residual": "" if p.residual is None else f"{p.residual:+.3f}",
            "note": p.note,
        }
        for p in placed
    ]
