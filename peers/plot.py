#!/usr/bin/env python3
"""Latency distribution per logger as an SVG (standard library only).

Reads peers/results/latency_<logger>.csv (written by the latency scenario of
`cargo run --release --manifest-path peers/Cargo.toml -- all`) and writes
peers/results/latency.svg: caller latency (log scale) against percentile, with the
x axis in "nines" (50 %, 90 %, 99 %, 99.9 %, ...), one line per logger, the timer's
own floor dashed.

    python3 peers/plot.py [RESULTS_DIR] [OUT.svg]
"""

import csv
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = ["logkit", "tracing", "slog", "ftlog", "spdlog", "fast_log", "baseline", "timer-floor"]
COLORS = {
    "logkit": "#d62728",
    "tracing": "#1f77b4",
    "slog": "#2ca02c",
    "ftlog": "#9467bd",
    "spdlog": "#ff7f0e",
    "fast_log": "#8c564b",
    "baseline": "#17becf",
    "timer-floor": "#7f7f7f",
}
W, H = 860, 520
LEFT, RIGHT, TOP, BOTTOM = 80, 150, 50, 60


def load(results):
    series = {}
    for name in os.listdir(results):
        if name.startswith("latency_") and name.endswith(".csv"):
            logger = name[len("latency_") : -len(".csv")]
            with open(os.path.join(results, name), newline="") as f:
                rows = [(float(r["nines"]), float(r["ns"])) for r in csv.DictReader(f)]
            if rows:
                series[logger] = rows
    return series


def nice_ticks(lo, hi):
    """Decades (and 2x, 5x within them while few decades are shown) between lo and hi."""
    ticks = []
    decade = 10 ** math.floor(math.log10(lo))
    steps = (1, 2, 5) if math.log10(hi / lo) <= 4 else (1,)
    while decade <= hi:
        for s in steps:
            v = decade * s
            if lo <= v <= hi:
                ticks.append(v)
        decade *= 10
    return ticks


def fmt_ns(v):
    if v >= 1e6:
        return f"{v / 1e6:g} ms"
    if v >= 1e3:
        return f"{v / 1e3:g} µs"
    return f"{v:g} ns"


def fmt_pct(nines):
    return f"{100 - 100 * 10 ** -nines:.{max(0, int(round(nines)) - 2)}f}%"


def render(series, title):
    x_max = max(r[-1][0] for r in series.values())
    y_lo = max(1.0, min(v for r in series.values() for _, v in r if v > 0))
    y_hi = max(v for r in series.values() for _, v in r)
    y_lo = 10 ** math.floor(math.log10(y_lo))
    y_hi = 10 ** math.ceil(math.log10(y_hi))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(n):
        return LEFT + pw * n / x_max

    def py(v):
        v = max(v, y_lo)
        return TOP + ph * (1 - (math.log10(v) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{title}</text>',
    ]
    for v in nice_ticks(y_lo, y_hi):
        y = py(v)
        major = abs(math.log10(v) - round(math.log10(v))) < 1e-9
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" stroke="{"#ccc" if major else "#eee"}"/>'
        )
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt_ns(v)}</text>')
    n = 0
    while n <= x_max + 1e-9:
        x = px(n)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + ph}" stroke="#ccc"/>')
        label = "p0" if n == 0 else fmt_pct(n)
        out.append(f'<text x="{x:.1f}" y="{TOP + ph + 18}" text-anchor="middle">{label}</text>')
        n += 1
    if x_max - (n - 1) > 0.45:
        out.append(f'<text x="{px(x_max):.1f}" y="{TOP + ph + 18}" text-anchor="middle">max</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(
        f'<text x="{LEFT + pw / 2}" y="{H - 16}" text-anchor="middle">percentile of calls '
        "(1 producer, one call per µs)</text>"
    )
    out.append(
        f'<text x="18" y="{TOP + ph / 2}" text-anchor="middle" transform="rotate(-90 18 {TOP + ph / 2})">'
        "caller latency (log scale)</text>"
    )
    names = [n for n in ORDER if n in series] + sorted(n for n in series if n not in ORDER)
    for i, name in enumerate(names):
        rows = series[name]
        color = COLORS.get(name, "#000")
        dash = ' stroke-dasharray="5,4"' if name == "timer-floor" else ""
        width = 2.6 if name == "logkit" else 1.6
        pts = " ".join(f"{px(nn):.1f},{py(v):.1f}" for nn, v in rows)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}"{dash}/>')
        ly = TOP + 14 + i * 20
        lx = LEFT + pw + 14
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 22}" y2="{ly - 4}" stroke="{color}" stroke-width="{width}"{dash}/>')
        p50 = next((v for nn, v in rows if nn >= math.log10(2) - 1e-4), rows[0][1])
        out.append(f'<text x="{lx + 28}" y="{ly}">{name} ({fmt_ns(round(p50))})</text>')
    out.append(
        f'<text x="{LEFT + pw + 14}" y="{TOP + 14 + len(names) * 20 + 6}" fill="#555" font-size="11">(p50 in brackets)</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(results, "latency.svg")
    series = load(results)
    if not series:
        sys.exit(f"no latency_*.csv in {results}: run the latency scenario first")
    with open(out, "w") as f:
        f.write(render(series, "Caller latency per logger, JSON lines to a file"))
    print(f"wrote {out} ({', '.join(sorted(series))})")


if __name__ == "__main__":
    main()
