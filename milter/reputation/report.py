"""`outguard reputation report`: daily volumes and rates per stream, against the thresholds;
a table, JSON, or a PNG (matplotlib, imported only for the plot, Agg backend)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .settings import DAY, ReputationSettings

PLOT_STREAMS = 6   # the busiest streams get a panel each; the rest are in the table


class ReportError(Exception):
    """The report cannot be drawn (say why; the table is still printed)."""


def day_iso(day: int) -> str:
    return dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + day).isoformat()


def build_report(store: Any, settings: ReputationSettings, first_day: int, last_day: int,
                 streams: list[str] | None = None) -> dict[str, Any]:
    """Per stream and UTC day: accepted recipients, hard bounces, complaints, their rates."""
    keys = streams if streams is not None else store.keys(first_day * DAY)
    out = []
    for key in keys:
        days = []
        for row in store.daily_series(key, first_day, last_day):
            n = row["accepted"]
            days.append({"date": day_iso(row["day"]), "accepted": n, "hard_bounces": row["hard_bounces"],
                         "complaints": row["complaints"],
                         "bounce_rate": round(row["hard_bounces"] / n, 5) if n else None,
                         "complaint_rate": round(row["complaints"] / n, 5) if n else None})
        pause, _ = store.pause_of(key)
        total = sum(d["accepted"] for d in days)
        out.append({"stream": key, "accepted": total, "hard_bounces": sum(d["hard_bounces"] for d in days),
                    "complaints": sum(d["complaints"] for d in days), "paused": pause is not None,
                    "paused_at": pause.at if pause else None, "days": days})
    out.sort(key=lambda s: -s["accepted"])
    return {"from": day_iso(first_day), "to": day_iso(last_day), "minimum_volume": settings.minimum_volume,
            "thresholds": {"review": {"bounce_rate": settings.review.bounce_rate,
                                      "complaint_rate": settings.review.complaint_rate},
                           "pause": {"bounce_rate": settings.pause.bounce_rate,
                                     "complaint_rate": settings.pause.complaint_rate}},
            "streams": out}


def _rate(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def render_table(report: dict[str, Any]) -> str:
    t = report["thresholds"]
    lines = [f"reputation {report['from']} .. {report['to']}  (daily rates are by the day a bounce arrived; "
             f"review {t['review']['bounce_rate']:.0%} bounces / {t['review']['complaint_rate']:.1%} complaints, "
             f"pause {t['pause']['bounce_rate']:.0%} / {t['pause']['complaint_rate']:.1%})"]
    if not report["streams"]:
        lines.append("no mail recorded in that time")
    for s in report["streams"]:
        state = "PAUSED" if s["paused"] else "sending"
        lines += ["", f"{s['stream']}: {state}; {s['accepted']} recipients, {s['hard_bounces']} hard bounces, "
                      f"{s['complaints']} complaints",
                  f"  {'date':<10} {'recipients':>10} {'bounces':>8} {'rate':>7} {'complaints':>10} {'rate':>7}"]
        for d in s["days"]:
            lines.append(f"  {d['date']:<10} {d['accepted']:>10} {d['hard_bounces']:>8} {_rate(d['bounce_rate'], 1):>7} "
                         f"{d['complaints']:>10} {_rate(d['complaint_rate'], 2):>7}")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """One panel per stream (the busiest `PLOT_STREAMS`): recipients per day as bars, the
    bounce and complaint rates as lines on a second axis, the thresholds dashed."""
    try:
        import matplotlib
    except ImportError:
        raise ReportError("--plot needs matplotlib: pip install 'outguard[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    streams = report["streams"][:PLOT_STREAMS] or [{"stream": "no mail recorded", "days": []}]
    fig, axes = plt.subplots(len(streams), 1, figsize=(10, 3.2 * len(streams)), squeeze=False)
    t = report["thresholds"]
    for ax, s in zip(axes[:, 0], streams, strict=True):
        dates = [dt.date.fromisoformat(d["date"]) for d in s["days"]]
        ax.bar(dates, [d["accepted"] for d in s["days"]], color="#c8d6e5", label="recipients")
        ax.set_ylabel("recipients / day")
        ax.set_title(f"{s['stream']}{'  (PAUSED)' if s.get('paused') else ''}", loc="left", fontsize=10)
        rates = ax.twinx()
        rates.plot(dates, [100 * d["bounce_rate"] if d["bounce_rate"] is not None else float("nan") for d in s["days"]],
                   marker="o", color="#c0392b", label="hard-bounce rate")
        rates.plot(dates, [100 * d["complaint_rate"] if d["complaint_rate"] is not None else float("nan")
                           for d in s["days"]], marker="s", color="#8e44ad", label="complaint rate")
        for value, colour, name in ((t["review"]["bounce_rate"], "#e67e22", "review (bounces)"),
                                    (t["pause"]["bounce_rate"], "#c0392b", "pause (bounces)"),
                                    (t["pause"]["complaint_rate"], "#8e44ad", "pause (complaints)")):
            rates.axhline(100 * value, color=colour, linestyle="--", linewidth=0.8, label=name)
        rates.set_ylabel("rate %")
        rates.set_ylim(bottom=0)
        handles = ax.get_legend_handles_labels()
        more = rates.get_legend_handles_labels()
        rates.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=7, ncol=3, framealpha=0.9)
        rates.set_ylim(top=max([1.6 * 100 * t["pause"]["bounce_rate"]] + [3 * 100 * (d["bounce_rate"] or 0) / 2
                                                                           for d in s["days"]]))
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
