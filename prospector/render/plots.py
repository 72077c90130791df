"""Static figures of a ranking's studies, drawn with matplotlib (no display needed).

:func:`plot_sensitivity` draws the rank intervals of a weight-sensitivity table;
:func:`plot_prediction_rate` the prediction-rate curves of a validation report.  Each
writes a PNG to the path given (callers wanting atomicity pass a staged path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["plot_prediction_rate", "plot_sensitivity"]


def plot_sensitivity(table: pd.DataFrame, path: str | Path, *, top: int = 50) -> Path:
    """Draw the rank intervals (p5–p95, median) of the *top* parcels to a PNG at *path*.

    *table* is the output of :func:`~prospector.analysis.sensitivity.weight_sensitivity`.
    The file is written directly; callers wanting atomicity pass a temporary path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    head = table.nsmallest(top, "rank")
    fig = Figure(figsize=(7.5, max(4.0, 0.18 * len(head) + 1.2)), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y = range(len(head))
    ax.hlines(list(y), head["rank_p5"], head["rank_p95"], color="#4c78a8", lw=3, alpha=0.6,
              label="rank p5–p95")  # fmt: skip
    ax.plot(head["rank_median"], list(y), "o", color="#1f3b57", ms=3.5, label="median rank")
    ax.plot(head["rank"], list(y), "|", color="#d62728", ms=8, label="rank (configured weights)")
    ax.set_yticks(list(y), head["parcel_id"].astype(str), fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("rank under perturbed weights")
    ax.set_title(f"Rank stability of the top {len(head)} parcels")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return Path(path)


def plot_prediction_rate(report: dict[str, Any], path: str | Path) -> Path:
    """Draw the prediction-rate curves of a validation report to a PNG at *path*.

    Left: the configured weights, spatial vs random folds (and in-sample) with the chance
    line.  Right, when the report has variants: each variant's spatial curve.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    variants = {k: v for k, v in report.get("variants", {}).items() if "curves" in v}
    fig = Figure(figsize=(11.0 if variants else 5.8, 5.0), dpi=120)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2 if variants else 1, squeeze=False)[0]
    curves = report["curves"]
    f = curves["area_fraction"]
    block = f"{report['block_km']:g} km blocks" + (
        f", {report['buffer_km']:g} km buffer" if report.get("buffer_km") else ""
    )
    ax = axes[0]
    ax.plot(
        f,
        curves["random"],
        color="#d62728",
        label=f"random folds (AUC {report['random']['auc']:.2f})",
    )
    ax.plot(
        f,
        curves["spatial"],
        color="#1f77b4",
        label=f"spatial, {block} (AUC {report['spatial']['auc']:.2f})",
    )
    if "in_sample" in curves:
        ax.plot(f, curves["in_sample"], color="#999999", ls=":", label="in-sample (all sites used)")
    ax.set_title("Configured weights")
    for name, v in variants.items():
        axes[1].plot(
            f, v["curves"]["spatial"], label=f"{name}: spatial (AUC {v['spatial']['auc']:.2f})"
        )
        axes[1].plot(f, v["curves"]["random"], ls="--", alpha=0.7, label=f"{name}: random")
    if variants:
        axes[1].set_title("Variants")
    for a in axes:
        a.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--", label="chance")
        for x in (0.05, 0.1, 0.2):
            a.axvline(x, color="#bbbbbb", lw=0.6)
        a.set_xlim(0, 1)
        a.set_ylim(0, 1)
        a.set_xlabel("share of ranked area (parcels by decreasing score)")
        a.set_ylabel(f"share of held-out sites captured (n = {report['n_deposits']:,})")
        a.legend(loc="lower right", fontsize=7)
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return Path(path)
