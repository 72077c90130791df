"""``prospector sensitivity`` and ``prospector validate``: parse, call the library, print.

Both rank the region once (:func:`prospector.ranking.rank`), run the study of
:mod:`prospector.ranking.studies` on the result, write its files atomically and print a
short table.  Errors are :class:`ProspectorError` subclasses; the ``prospector`` entry
point maps them to exit code 2.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, get_args

import click
from rich.table import Table

from prospector.analysis.validate import EvaluateOn, Targets
from prospector.cli.options import (
    commodity_option,
    config_option,
    group_option,
    overwrite_option,
    recorded_warnings,
    region_option,
    seed_option,
)
from prospector.cli.options import out as console

__all__ = ["sensitivity", "validate"]


def _rank(
    region: str, config_path: str | None, focus: tuple[str | None, str | None] = (None, None)
) -> Any:
    from prospector.config import load_config, with_focus
    from prospector.ranking import rank

    config = with_focus(load_config(config_path), *focus)
    with recorded_warnings():
        return rank(region, config, engine="memory")


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
    from prospector._runtime import check_writable
    from prospector.ranking.studies import sensitivity as run_sensitivity
    from prospector.ranking.studies import write_sensitivity

    out_dir = Path(out)
    check_writable(out_dir / "sensitivity.csv", overwrite=overwrite)  # before the run
    result = _rank(region, config_path)
    seed = result.config.seed if seed is None else seed
    started = time.perf_counter()
    table = run_sensitivity(
        result, n_runs=runs, top_n=top_n, concentration=concentration, seed=seed
    )
    elapsed = time.perf_counter() - started
    paths = write_sensitivity(table, out_dir, plot=not no_plot, overwrite=overwrite)
    weights = result.weights

    shown = Table(title=f"Rank under {runs} weight draws (Dirichlet, concentration {concentration:g}, "
                        f"seed {seed})")  # fmt: skip
    for col in ("rank", "parcel_id", "p5", "median", "p95", f"in top {top_n}"):
        shown.add_column(col, justify="left" if col == "parcel_id" else "right")
    for row in table.head(15).itertuples():
        shown.add_row(str(row.rank), str(row.parcel_id), f"{row.rank_p5:.0f}",
                      f"{row.rank_median:.0f}", f"{row.rank_p95:.0f}", f"{row.top_n_share:.0%}")  # fmt: skip
    console.print(shown)
    head = table[table["rank"] <= top_n]
    console.print(
        f"weights: {', '.join(f'{k} {v:.3f}' for k, v in weights.effective.items() if v > 0)}\n"
        f"of the top {len(head)}, {(head['top_n_share'] >= 0.9).sum()} stay in the top {top_n} "
        f"in at least 90 % of runs; median p5–p95 width {(head['rank_p95'] - head['rank_p5']).median():.0f} "
        f"ranks ({elapsed:.1f} s for {len(table):,} parcels × {runs} runs)."
    )
    if top_n >= result.n_ranked:
        console.print(
            f"note: --top {top_n} is not below the {result.n_ranked:,} ranked parcels, so every "
            f"parcel is always in the top {top_n} (share 100 %); use --top below "
            f"{result.n_ranked:,} to see which ranks hold."
        )
    for key, p in paths.items():
        console.print(f"{key:>8}: {p}")


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
@click.option("--targets", type=click.Choice(get_args(Targets)), default="commodity",
              show_default=True,
              help="Held-out sites: with at least one commodity, with a critical one, or all.")  # fmt: skip
@click.option("--evaluate-on", type=click.Choice(get_args(EvaluateOn)), default="fold", show_default=True,
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
@commodity_option
@group_option
@overwrite_option
def validate(region: str, config_path: str | None, block_km: float, folds: int, seed: int | None,
             buffer_km: float, targets: str, evaluate_on: str, no_variants: bool, no_model: bool,
             no_baselines: bool, json_path: str, plots: str | None,
             focus_commodities: str | None, focus_groups: str | None,
             overwrite: bool) -> None:  # fmt: skip
    """Cross-validate REGION's ranking against held-out known sites (spatial vs random folds)."""
    from prospector._runtime import check_writable
    from prospector.ranking.studies import VARIANTS, validation, write_validation

    check_writable(json_path, overwrite=overwrite)  # before the run
    result = _rank(region, config_path, (focus_commodities, focus_groups))
    report = validation(
        result, block_km=block_km, n_folds=folds, seed=seed, buffer_km=buffer_km,
        targets=targets, evaluate_on=evaluate_on,  # type: ignore[arg-type]
        variants=None if no_variants else VARIANTS,
        models=not no_model, baselines=not no_baselines,
    )  # fmt: skip
    report["command"] = " ".join(["prospector", *sys.argv[1:]])
    paths = write_validation(report, json_path, plots=plots, overwrite=overwrite)
    console.print(_metrics_table(report))
    if report.get("variants") or report.get("baselines"):
        console.print(_variants_table(report))
    for name in report.get("below_chance", []):
        console.print(f"[yellow]Below chance under spatial blocks: {name}[/yellow]")
    console.print(
        f"{report['n_deposits']:,} held-out {targets} sites in {folds} folds; "
        f"{report['runtime_s']:.1f} s.  Spatial far above chance from deposit proximity alone "
        "means leakage across block edges, not prospectivity."
    )
    console.print(f"    json: {paths['json']}")
    if "png" in paths:
        console.print(f"    plot: {paths['png']}")


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
