"""The /quality pages' charts as geometry: where each line, point and bar goes, computed here from runs
and their per-query results, so that templates/_charts.html only writes SVG elements (through
Jinja's autoescaping: a query or model name is text in a <title>, never markup) and no JavaScript
is needed. Colours come from style.css by class (the CSP allows no inline style).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from indexer.quality_store import QueryOutcome, Run

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 96, 12, 40  # margins: y labels, legend, -, x labels
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
Y_TICKS = (0, 25, 50, 75, 100)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str  # what hovering shows


@dataclass(frozen=True)
class Series:
    name: str  # what was measured: `Run.label`
    points: list[Point]
    mode: str  # the line's colour
    reranked: bool  # a dashed line

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class LineChart:
    title: str
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    series: list[Series]
    width: int = WIDTH
    height: int = HEIGHT


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # "win", "loss" or "tie"
    title: str


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    middle: float  # y of the zero line
    wins: int
    losses: int
    ties: int
    width: int = WIDTH
    height: int = HEIGHT


def _y(value: float) -> float:
    """A figure x100 (0 to 100) as a y coordinate in the plot."""
    return TOP + PLOT_HEIGHT * (1 - max(0.0, min(100.0, value)) / 100)


def version_label(run: Run) -> str:
    return f"v{run.index_version} · {(run.model or '?').split(' ')[0]}"


def metric_chart(runs: Sequence[Run], metric: str) -> LineChart:
    """`metric` over the index versions and models measured, one line per mode: a slot per distinct
    (version, model) in the order they were first measured, holding each mode's latest run there."""
    finished = [run for run in runs if run.metrics is not None]
    slots: dict[tuple, int] = {}
    for run in finished:
        slots.setdefault((run.index_version, run.model), len(slots))
    step = PLOT_WIDTH / max(1, len(slots))
    x_of = {slot: LEFT + step * (index + 0.5) for slot, index in slots.items()}
    lines: dict[str, dict[tuple, Point]] = {}
    for run in finished:
        slot = (run.index_version, run.model)
        value = run.metrics[metric]
        lines.setdefault((run.label, run.mode, bool(run.rerank)), {})[slot] = Point(
            x_of[slot], _y(value), f"{run.label}, run {run.id}, {version_label(run)}: {metric} {value:.2f}")
    labels = [(x_of[slot], f"v{slot[0]}") for slot in slots]
    return LineChart(metric, labels, [(_y(tick), str(tick)) for tick in Y_TICKS],
                     [Series(label, sorted(points.values(), key=lambda p: p.x), mode, reranked)
                      for (label, mode, reranked), points in lines.items()])


def win_loss_chart(a: Run, b: Run, a_outcomes: Sequence[QueryOutcome], b_outcomes: Sequence[QueryOutcome],
                   queries: dict[str, str]) -> BarChart:
    """nDCG@10 of run `b` minus run `a`, one bar per query both ran, best gain first: a bar above the
    line is a query `b` does better."""
    before = {o.query_id: o.ndcg for o in a_outcomes}
    deltas = sorted(((o.ndcg - before[o.query_id], o.query_id) for o in b_outcomes if o.query_id in before), key=lambda d: -d[0])
    middle = TOP + PLOT_HEIGHT / 2
    scale = (PLOT_HEIGHT / 2) / max([abs(d) for d, _ in deltas] + [1.0])
    step = (WIDTH - LEFT - 8) / max(1, len(deltas))
    bars = []
    for index, (delta, query_id) in enumerate(deltas):
        kind = "win" if delta > 0 else "loss" if delta < 0 else "tie"
        height = max(abs(delta) * scale, 1.0)  # a tie still shows, as a sliver on the line
        title = f"{query_id}: {queries.get(query_id, '')} — nDCG@10 {before[query_id]:.1f} → {before[query_id] + delta:.1f}"
        bars.append(Bar(LEFT + step * index, middle - height if delta > 0 else middle, max(step * 0.8, 0.5), height, kind, title))
    count = {kind: sum(bar.kind == kind for bar in bars) for kind in ("win", "loss", "tie")}
    return BarChart(f"nDCG@10: run {b.id} ({b.label}, {version_label(b)}) against run {a.id} ({a.label}, {version_label(a)})",
                    bars, middle, count["win"], count["loss"], count["tie"])
