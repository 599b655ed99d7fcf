"""An incident's mentions over time, drawn on the server as SVG: volume as bars, mean sentiment as a line."""

from dataclasses import dataclass
from datetime import datetime, timedelta

WIDTH, HEIGHT, PAD = 560, 160, 28
MAX_BUCKETS = 24
STEPS = [5, 10, 15, 30, 60, 120, 240, 720, 1440]  # minutes per bar


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    count: int
    sentiment: float | None
    start: datetime


@dataclass
class Chart:
    bars: list[Bar]
    line: str  # SVG polyline points for the mean sentiment (-1 bottom … 1 top)
    peak: int
    step_minutes: int
    start: datetime
    end: datetime
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD

    @property
    def zero_y(self) -> float:
        return PAD + (HEIGHT - 2 * PAD) / 2


def chart(points: list[tuple[datetime, float]], *, since: datetime, now: datetime) -> Chart | None:
    """``points``: (posted_at, sentiment) of each mention. None when there is nothing to draw."""
    if not points:
        return None
    # From the incident's detection, or a day before it at most: an old post linked to it cannot stretch the axis.
    start = max(min(since, min(at for at, _ in points)), since - timedelta(days=1))
    span = max(now - start, timedelta(minutes=5))
    step = next((s for s in STEPS if span / timedelta(minutes=s) <= MAX_BUCKETS), STEPS[-1])
    origin = start.replace(second=0, microsecond=0) - timedelta(
        minutes=start.minute % step if step < 60 else 0
    )
    buckets = min(int((now - origin) / timedelta(minutes=step)) + 1, MAX_BUCKETS * 4)
    counts = [0] * buckets
    totals = [0.0] * buckets
    for at, sentiment in points:
        n = min(buckets - 1, max(0, int((at - origin) / timedelta(minutes=step))))
        counts[n] += 1
        totals[n] += sentiment
    peak = max(counts)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    bar_w = inner_w / buckets
    bars, line = [], []
    for n, count in enumerate(counts):
        h = inner_h * count / peak if peak else 0
        mean = totals[n] / count if count else None
        bars.append(Bar(PAD + n * bar_w + 1, PAD + inner_h - h, max(1.0, bar_w - 2), h, count, mean,
                        origin + timedelta(minutes=step * n)))  # fmt: skip
        if mean is not None:
            line.append(f"{PAD + (n + 0.5) * bar_w:.1f},{PAD + inner_h * (1 - (mean + 1) / 2):.1f}")
    return Chart(bars, " ".join(line), peak, step, origin, now)
