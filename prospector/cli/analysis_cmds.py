"""``prospector sensitivity`` and ``prospector validate``: thin wrappers over the analysis.

The commands rank the region once, hand the parcels to
:mod:`prospector.analysis.sensitivity` / :mod:`prospector.analysis.validate`, write the
results atomically and print a short table.  The PNG helpers live here, not in the
analysis package, because drawing is output.  Errors are :class:`ProspectorError`
subclasses; the ``prospector`` entry point maps them to exit code 2.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from prospector.errors import ConfigError, ProspectorWarning

__all__ = ["plot_prediction_rate", "plot_sensitivity", "sensitivity", "validate"]

# Options repeat prospector.cli.main's wording; they are not imported from there so that
# main.py can import this module without a circular import.
_err = Console(stderr=True, highlight=False, soft_wrap=True)
_out = Console(highlight=False, soft_wrap=True)

region_option = click.option(
    "--region", "-r", required=True, metavar="REGION",
    help="Region name in layers/regions/ (e.g. utah-sample) or path of a region .toml file.",
)  # fmt: skip
config_option = click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False), default=None,
    help="TOML configuration file (weights, radii, methods).",
)  # fmt: skip
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
seed_option = click.option(
    "--seed", type=int, default=None, help="Random seed (default: the configuration's `seed`)."
)

#: Weightings validated beside the configured one: what extrapolates and what does not.
VARIANTS: dict[str, dict[str, float]] = {
    "value_only": {"value": 1.0},
    "evidence_only": {"evidence": 1.0},
}


def _rank(region: str, config_path: str | None) -> Any:
    from prospector.config import load_config
    from prospector.pipeline import rank

    config = load_config(config_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = rank(region, config)
    seen = set()
    for w in caught:
        text = str(w.message)
        if text not in seen:
            seen.add(text)
            kind = "note" if issubclass(w.category, ProspectorWarning) else "warning"
            _err.print(f"[yellow]{kind}:[/] {text}", markup=True)
    return result


# --------------------------------------------------------------------------- plots


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


# --------------------------------------------------------------------------- commands


@click.command("sensitivity")
@region_option
@config_option
@click.option("--runs", type=click.IntRange(min=1), default=200, show_default=True,
              help="Number of Monte-Carlo weight draws.")  # fmt: skip
@click.option("--top", "top_n", type=click.IntRange(min=1), default=100, show_default=True,
              help="Shortlist size whose stability is measured.")  # fmt: skip
@click.option("--concentration", type=click.FloatRange(min=0, min_open=True), default=50.0,
              show_default=True, help="Dirichlet concentration (larger: smaller perturbations).")  # fmt: skip
@seed_option
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True,
              help="Output folder for sensitivity.csv and sensitivity.png.")  # fmt: skip
@click.option("--no-plot", is_flag=True, help="Skip the PNG.")
@overwrite_option
def sensitivity(region: str, config_path: str | None, runs: int, top_n: int, concentration: float,
                seed: int | None, out: str, no_plot: bool, overwrite: bool) -> None:  # fmt: skip
    """Perturb the criterion weights of REGION's ranking and report rank intervals."""
    from prospector.analysis.sensitivity import result_criteria, weight_sensitivity
    from prospector.export import atomic_output, check_writable

    out_dir = Path(out)
    paths = {"csv": out_dir / "sensitivity.csv"}
    if not no_plot:
        paths["png"] = out_dir / "sensitivity.png"
    for p in paths.values():
        check_writable(p, overwrite=overwrite)
    result = _rank(region, config_path)
    seed = result.config.seed if seed is None else seed
    started = time.perf_counter()
    parcels, criteria, weights = result_criteria(result)
    table = weight_sensitivity(
        criteria, weights.effective, parcels["parcel_id"], n_runs=runs,
        concentration=concentration, top_n=top_n, seed=seed, method="wlc" if result.config.score.method == "model" else result.config.score.method,
        gamma=result.config.score.gamma, eligible=parcels["rank"].notna(),
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    with atomic_output(paths["csv"], overwrite=overwrite) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    if "png" in paths:
        with atomic_output(paths["png"], overwrite=overwrite) as tmp:
            plot_sensitivity(table, tmp)

    shown = Table(title=f"Rank under {runs} weight draws (Dirichlet, concentration {concentration:g}, "
                        f"seed {seed})")  # fmt: skip
    for col in ("rank", "parcel_id", "p5", "median", "p95", f"in top {top_n}"):
        shown.add_column(col, justify="left" if col == "parcel_id" else "right")
    for row in table.head(15).itertuples():
        shown.add_row(str(row.rank), str(row.parcel_id), f"{row.rank_p5:.0f}",
                      f"{row.rank_median:.0f}", f"{row.rank_p95:.0f}", f"{row.top_n_share:.0%}")  # fmt: skip
    _out.print(shown)
    head = table[table["rank"] <= top_n]
    _out.print(
        f"weights: {', '.join(f'{k} {v:.3f}' for k, v in weights.effective.items() if v > 0)}\n"
        f"of the top {len(head)}, {(head['top_n_share'] >= 0.9).sum()} stay in the top {top_n} "
        f"in at least 90 % of runs; median p5–p95 width {(head['rank_p95'] - head['rank_p5']).median():.0f} "
        f"ranks ({elapsed:.1f} s for {len(table):,} parcels × {runs} runs)."
    )
    for key, p in paths.items():
        _out.print(f"{key:>8}: {p}")


@click.command("validate")
@region_option
@config_option
@click.option("--block-km", type=float, default=25.0, show_default=True,
              help="Side of the square spatial blocks, in km of the work CRS.")  # fmt: skip
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Number of folds.")  # fmt: skip
@seed_option
@click.option("--buffer-km", type=float, default=0.0, show_default=True,
              help="Also drop training sites within this distance of the held-out blocks.")  # fmt: skip
@click.option("--targets", type=click.Choice(["commodity", "critical", "all"]), default="commodity",
              show_default=True,
              help="Held-out sites: with at least one commodity, with a critical one, or all.")  # fmt: skip
@click.option("--evaluate-on", type=click.Choice(["fold", "region"]), default="fold", show_default=True,
              help="Rank held-out sites among their fold's parcels or among all parcels.")  # fmt: skip
@click.option("--no-variants", is_flag=True,
              help="Skip the value-only and evidence-only comparisons.")  # fmt: skip
@click.option("--no-model", is_flag=True,
              help="Skip the learned prospectivity model (refitted per fold).")  # fmt: skip
@click.option("--no-baselines", is_flag=True,
              help="Skip the site-only baselines (kernel density, 5 nearest sites).")  # fmt: skip
@click.option("--json", "json_path", type=click.Path(dir_okay=False), required=True,
              help="Metrics file to write (JSON).")  # fmt: skip
@click.option("--plots", type=click.Path(file_okay=False), default=None,
              help="Folder for prediction_rate.png.")  # fmt: skip
@overwrite_option
def validate(region: str, config_path: str | None, block_km: float, folds: int, seed: int | None,
             buffer_km: float, targets: str, evaluate_on: str, no_variants: bool, no_model: bool,
             no_baselines: bool, json_path: str, plots: str | None,
             overwrite: bool) -> None:  # fmt: skip
    """Cross-validate REGION's ranking against held-out known sites (spatial vs random folds)."""
    from prospector.analysis._parallel import n_threads
    from prospector.analysis.validate import validation_report
    from prospector.export import atomic_output, check_writable, write_json

    if not (block_km > 0):
        raise ConfigError(f"--block-km must be a positive number of km; got {block_km:g}.")
    if not (buffer_km >= 0):
        raise ConfigError(f"--buffer-km must be >= 0; got {buffer_km:g}.")
    png = Path(plots) / "prediction_rate.png" if plots else None
    check_writable(json_path, overwrite=overwrite)
    if png is not None:
        check_writable(png, overwrite=overwrite)
    result = _rank(region, config_path)
    if result.data.deposits is None or len(result.data.deposits) == 0:
        raise ConfigError(
            f"region {region!r} has no deposit layer: there are no known sites to hold out. "
            "Add a `deposits` layer to the region file."
        )
    seed = result.config.seed if seed is None else seed
    started = time.perf_counter()
    parcels = result.all_parcels
    report = validation_report(
        parcels, result.data.deposits, result.data.vocabulary, result.config,
        have=result.available, eligible=parcels["rank"].notna(),
        block_km=block_km, n_folds=folds, seed=seed, targets=targets,  # type: ignore[arg-type]
        buffer_km=buffer_km, evaluate_on=evaluate_on,  # type: ignore[arg-type]
        variants=None if no_variants else VARIANTS,
        models=not no_model and result.data.deposits is not None,
        baselines=not no_baselines, evidence=result.data.evidence, threads=n_threads(),
    )  # fmt: skip
    report["region"] = result.data.region.name
    report["command"] = " ".join(["prospector", *sys.argv[1:]])
    report["runtime_s"] = round(time.perf_counter() - started, 2)
    if report["n_deposits"] == 0:
        raise ConfigError(
            f"no {targets} site lies in a ranked parcel of {region!r}: nothing to validate. "
            "Try --targets all, or check the deposit layer and score.status."
        )
    write_json(report, json_path, overwrite=overwrite)
    if png is not None:
        with atomic_output(png, overwrite=overwrite) as tmp:
            plot_prediction_rate(report, tmp)
    _out.print(_metrics_table(report))
    if report.get("variants") or report.get("baselines"):
        _out.print(_variants_table(report))
    for name in report.get("below_chance", []):
        _out.print(f"[yellow]Below chance under spatial blocks: {name}[/yellow]")
    _out.print(
        f"{report['n_deposits']:,} held-out {targets} sites in {folds} folds; "
        f"{report['runtime_s']:.1f} s.  Spatial far above chance from deposit proximity alone "
        "means leakage across block edges, not prospectivity."
    )
    _out.print(f"    json: {json_path}")
    if png is not None:
        _out.print(f"    plot: {png}")


def _metrics_table(report: dict[str, Any]) -> Table:
    block = f"spatial {report['block_km']:g} km" + (
        f" (+{report['buffer_km']:g} km buffer)" if report.get("buffer_km") else ""
    )
    table = Table(title="Prediction rate, configured weights: share of held-out sites captured")
    for col in ("top share of area", "chance", "random folds", block, "gap (random − spatial)"):
        table.add_column(col, justify="right")
    for key in report["chance"]["capture"]:
        table.add_row(
            f"{float(key):.0%}", f"{report['chance']['capture'][key]:.1%}",
            f"{report['random']['capture'][key]:.1%}", f"{report['spatial']['capture'][key]:.1%}",
            f"{report['gap']['capture'][key]:+.1%}",
        )  # fmt: skip
    table.add_row("AUC", "0.500", f"{report['random']['auc']:.3f}", f"{report['spatial']['auc']:.3f}",
                  f"{report['gap']['auc']:+.3f}")  # fmt: skip
    return table


def _variants_table(report: dict[str, Any]) -> Table:
    table = Table(title="Capture at 10 % of area by weighting (chance 10 %)")
    for col in ("weights", "random folds", "spatial", "spatial AUC"):
        table.add_column(col, justify="left" if col == "weights" else "right")
    rows = [
        ("configured", report),
        *report.get("variants", {}).items(),
        *((f"baseline {k}", v) for k, v in report.get("baselines", {}).items()),
    ]
    for name, v in rows:
        if "skipped" in v:
            table.add_row(name, "—", "—", f"skipped: {v['skipped']}")
            continue
        table.add_row(name, f"{v['random']['capture']['0.1']:.1%}",
                      f"{v['spatial']['capture']['0.1']:.1%}", f"{v['spatial']['auc']:.3f}")  # fmt: skip
    return table
