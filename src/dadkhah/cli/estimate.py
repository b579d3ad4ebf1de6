"""Commands for estimating the total toll."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dadkhah.cli.common import (
    JsonOption,
    emit_json,
    err,
    handle_errors,
    opened_store,
    out,
    progress_bar,
)
from dadkhah.errors import DadkhahError
from dadkhah.report.charts import plot_estimate

# The estimators pull in numba and scipy (about a second and 150 MB): they are imported by the
# commands that use them, so that every other command starts quickly and stays small.

estimate_app = typer.Typer(help="Estimates of the total toll: multiple systems estimation.", no_args_is_help=True)

Method = Annotated[str, typer.Option("--method", help="lcmcr, loglinear, chao or lincoln-petersen.")]
LatentClasses = Annotated[int | None, typer.Option("--latent-classes", help="LCMCR: latent classes K (default min(2^lists - 1, 15)).")]
Iterations = Annotated[int, typer.Option("--iterations", help="LCMCR: sweeps kept after burn-in, per chain.")]
BurnIn = Annotated[int, typer.Option("--burn-in", help="LCMCR: sweeps discarded first, per chain.")]
Thin = Annotated[int, typer.Option("--thin", help="LCMCR: keep one sweep in this many.")]
Chains = Annotated[int, typer.Option("--chains", help="LCMCR: independent chains, compared for agreement.")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed (same seed, same result).")]
Selection = Annotated[str, typer.Option("--selection", help="Log-linear: bic, aic, stepwise or main.")]
MaxOrder = Annotated[int, typer.Option("--max-order", help="Log-linear: 2 for pairwise interactions, 3 to add three-way ones (up to 5 lists).")]
Interval = Annotated[str, typer.Option("--interval", help="Log-linear: profile, bootstrap or bca.")]
ModelUncertainty = Annotated[bool, typer.Option("--model-uncertainty", help="Log-linear: the interval includes model-selection uncertainty.")]
Level = Annotated[float, typer.Option("--level", help="Interval level.")]
Plot = Annotated[Path | None, typer.Option("--plot", help="Draw the estimate to this PNG file.")]


def _params(method, *, latent_classes, iterations, burn_in, thin, chains, seed, selection, max_order, interval,
            model_uncertainty, level) -> dict:
    if method == "lcmcr":
        return {"latent_classes": latent_classes, "iterations": iterations, "burn_in": burn_in, "thin": thin,
                "chains": chains, "random_state": seed, "level": level}
    if method == "loglinear":
        return {"selection": selection, "max_order": max_order, "interval": interval, "model_uncertainty": model_uncertainty,
                "random_state": seed, "level": level}
    return {"level": level}


def _show(document: dict) -> None:
    out.print(f"[bold]{document['method']}[/] ({document['model']}): [bold]{document['estimate']:,.0f}[/] "
              f"[{document['interval'][0]:,.0f}, {document['interval'][1]:,.0f}] at {document['level']:.0%}; "
              f"{document['observed']:,} named on the lists.")
    for warning in document.get("warnings", []):
        err.print(f"[bold yellow]warning:[/] {warning}", markup=True, highlight=False)
    strata = document.get("strata") or []
    if strata:
        table = Table("stratum", "named", "estimate", "interval", "lists", "note")
        for s in strata:
            if s.get("estimate") is None:
                table.add_row(str(s["name"]), str(s.get("observed") or ""), "", "", "", "; ".join(s["warnings"]))
            else:
                table.add_row(str(s["name"]), f"{s['observed']:,}", f"{s['estimate']:,.0f}",
                              f"[{s['interval'][0]:,.0f}, {s['interval'][1]:,.0f}]", str(len(s["lists"])),
                              "; ".join(s["warnings"])[:80])
        out.print(table)
        total = document["strata_total"]
        out.print(f"Sum over strata: [bold]{total['estimate']:,.0f}[/] ({total['strata_estimated']} of {total['strata']} "
                  f"strata estimated; {total['observed_in_unestimated_strata']:,} named in the others, counted as named).")
    sensitivity = document.get("linkage_sensitivity")
    if sensitivity:
        for run in sensitivity["runs"]:
            out.print(f"  linkage threshold {run['threshold']}: {run['persons']:,} persons -> {run['estimate']:,.0f} "
                      f"[{run['interval'][0]:,.0f}, {run['interval'][1]:,.0f}]")
        out.print(f"  spread across thresholds: {sensitivity['spread']:,.0f}")


@estimate_app.command("table")
@handle_errors
def estimate_table_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV: one 0/1 column per list and a count column.")],
    method: Method = "lcmcr",
    latent_classes: LatentClasses = None,
    iterations: Iterations = 100_000,
    burn_in: BurnIn = 10_000,
    thin: Thin = 100,
    chains: Chains = 4,
    seed: Seed = None,
    selection: Selection = "bic",
    max_order: MaxOrder = 2,
    interval: Interval = "profile",
    model_uncertainty: ModelUncertainty = False,
    level: Level = 0.95,
    plot: Plot = None,
    as_json: JsonOption = False,
) -> None:
    """Estimate the total from a capture table file (works without a workspace; stored when there is one).

    Example: dadkhah estimate table kosovo.csv --method lcmcr --seed 1 --json
    """
    from dadkhah.estimate import estimate_table, read_table
    from dadkhah.estimate.registry import record_estimate

    table = read_table(file)
    params = _params(method, latent_classes=latent_classes, iterations=iterations, burn_in=burn_in, thin=thin, chains=chains,
                     seed=seed, selection=selection, max_order=max_order, interval=interval, model_uncertainty=model_uncertainty, level=level)
    with progress_bar(f"estimating ({method})") as progress:
        result = estimate_table(table, method, **params)
        progress(1, 1)
    document = result.to_dict() | {"strata": [], "input": str(file)}
    try:
        with opened_store(ctx) as store, store.session() as session:
            document["id"] = record_estimate(session, result, source="table", input_name=file.name)
    except DadkhahError:
        document["id"] = None  # no workspace here: the estimate is printed, not stored
    if plot:
        document["plot"] = plot_estimate(document, plot)
    if as_json:
        emit_json(document)
    else:
        _show(document)


@estimate_app.command("run")
@handle_errors
def estimate_run(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option("--by", help="Stratify by city, province, month or gender.")] = None,
    method: Method = "lcmcr",
    linkage_thresholds: Annotated[str | None, typer.Option("--linkage-thresholds", help="e.g. 0.5,0.9,0.99: re-estimate under each clustering.")] = None,
    latent_classes: LatentClasses = None,
    iterations: Iterations = 100_000,
    burn_in: BurnIn = 10_000,
    thin: Thin = 100,
    chains: Chains = 4,
    seed: Seed = None,
    selection: Selection = "bic",
    max_order: MaxOrder = 2,
    interval: Interval = "profile",
    model_uncertainty: ModelUncertainty = False,
    level: Level = 0.95,
    plot: Plot = None,
    as_json: JsonOption = False,
) -> None:
    """Estimate the total from the linked registry, overall and by stratum.

    Example: dadkhah estimate run --method lcmcr --by city --plot toll.png
    """
    from dadkhah.estimate import METHODS, estimate_table
    from dadkhah.estimate.registry import estimate_registry

    if method not in METHODS:
        raise DadkhahError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    try:
        thresholds = [float(x) for x in linkage_thresholds.split(",")] if linkage_thresholds else []
    except ValueError:
        raise DadkhahError(f"--linkage-thresholds takes probabilities separated by commas, not {linkage_thresholds!r}") from None
    params = _params(method, latent_classes=latent_classes, iterations=iterations, burn_in=burn_in, thin=thin, chains=chains,
                     seed=seed, selection=selection, max_order=max_order, interval=interval, model_uncertainty=model_uncertainty, level=level)
    with opened_store(ctx) as store, progress_bar(f"estimating ({method})") as progress:
        document = estimate_registry(store, estimate=lambda table: estimate_table(table, method, **params), by=by,
                                     thresholds=thresholds, progress=progress)
    if plot:
        document["plot"] = plot_estimate(document, plot)
    if as_json:
        emit_json(document)
    else:
        _show(document)
        if plot:
            out.print(f"Chart: {document['plot']}", markup=False)


@estimate_app.command("list")
@handle_errors
def estimate_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Stored estimates, newest first.

    Example: dadkhah estimate list --json
    """
    from dadkhah.estimate.stored import list_estimates

    with opened_store(ctx) as store, store.session() as session:
        listed = list_estimates(session)
    if as_json:
        emit_json(listed)
        return
    table = Table("#", "when", "method", "by", "named", "estimate", "interval")
    table.add_column("from", overflow="fold")
    for r in listed:
        table.add_row(str(r["id"]), r["created_at"][:16], r["method"], r["by"] or "", f"{r['observed']:,}",
                      f"{r['estimate']:,.0f}", f"[{r['interval'][0]:,.0f}, {r['interval'][1]:,.0f}]",
                      r["input"] or f"linkage run {r['linkage_run_id']}")
    out.print(table)
