"""Commands for estimating the total toll."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    emit_json,
    err,
    handle_errors,
    opened_store,
    out,
    progress_bar,
)
from dadkhah.errors import InputError, WorkspaceError
from dadkhah.report.charts import LANGUAGES as CHART_LANGUAGES
from dadkhah.report.charts import checked_chart_path, plot_estimate, stratum_labels

# The estimators pull in numba and scipy (about a second and 150 MB): they are imported by the
# commands that use them, so that every other command starts quickly and stays small.

estimate_app = typer.Typer(help="Estimates of the total toll: multiple systems estimation.", no_args_is_help=True)

# The estimator's options, declared once for every command that estimates (see with_estimate_options).
ESTIMATE_OPTIONS = {
    "method": (Annotated[str, typer.Option("--method", help="auto (the default: bma for 3-5 lists, lcmcr for 6 or more, lincoln-petersen for 2, with the reason printed), lcmcr, loglinear, bma, chao or lincoln-petersen.")], "auto"),
    "latent_classes": (Annotated[int | None, typer.Option("--latent-classes", help="LCMCR: latent classes K (default min(2^lists - 1, 15)).")], None),
    "iterations": (Annotated[int, typer.Option("--iterations", min=1, help="LCMCR: sweeps kept after burn-in, per chain.")], 100_000),
    "burn_in": (Annotated[int, typer.Option("--burn-in", min=0, help="LCMCR: sweeps discarded first, per chain.")], 10_000),
    "thin": (Annotated[int, typer.Option("--thin", min=1, help="LCMCR: keep one sweep in this many.")], 100),
    "chains": (Annotated[int, typer.Option("--chains", min=1, help="LCMCR: independent chains, compared for agreement.")], 4),
    "seed": (Annotated[int | None, typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed, 0 to 4294967295 (same seed, same result).")], None),
    "selection": (Annotated[str, typer.Option("--selection", help="Log-linear: bic, aic, stepwise or main.")], "bic"),
    "max_order": (Annotated[int, typer.Option("--max-order", help="Log-linear: 2 for pairwise interactions, 3 to add three-way ones (up to 5 lists).")], 2),
    "interval": (Annotated[str | None, typer.Option("--interval", help="Log-linear: bootstrap (the default), bca, or profile (conditional on the selected model).")], None),
    "model_uncertainty": (Annotated[bool | None, typer.Option("--model-uncertainty/--no-model-uncertainty", help="Log-linear: the interval includes model-selection uncertainty (re-selection on every bootstrap resample); on by default, off with --interval profile.")], None),
    "delta": (Annotated[float | None, typer.Option("--delta", help="Model averaging (bma): prior count per cell (default 1/2^lists, one person in all).")], None),
    "level": (Annotated[float, typer.Option("--level", help="Interval level.")], 0.95),
    "plot": (Annotated[Path | None, typer.Option("--plot", help="Draw the estimate to this SVG file (a chart per stratum).")], None),
    "plot_language": (Annotated[str, typer.Option("--plot-language", help="The chart's language: en, or fa (Persian, right to left).")], "en"),
}


def with_estimate_options(command: Callable) -> Callable:
    """Give ``command`` the estimator's options (before ``--json``); it receives them as one dict, ``options``."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "options"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
             for name, (annotation, default) in ESTIMATE_OPTIONS.items()]
    positional = [p for p in own if p.default is p.empty]
    keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own if p.default is not p.empty]
    last = [p for p in keyword if p.name == "as_json"]
    keyword = [p for p in keyword if p.name != "as_json"]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        options = {name: kwargs.pop(name) for name in ESTIMATE_OPTIONS}
        return command(*args, options=options, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*positional, *keyword, *added, *last])
    return wrapper


def _count(value) -> str:
    """A number of people named: whole, or to one decimal when it is an average over replicates."""
    if value is None:
        return ""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _stratum_estimate(value: float) -> str:
    """A stratum's estimate as the web shows it: to one decimal below 100, so that a small stratum's
    estimate (never below its average number named) does not read as fewer than those named."""
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.1f}"


def _show(document: dict) -> None:
    # the model's own text may hold brackets ([12][345]) that rich would read as markup
    out.print(f"[bold]{escape(document['method'])}[/] ({escape(document['model'])}): [bold]{document['estimate']:,.0f}[/] "
              f"[{document['interval'][0]:,.0f}, {document['interval'][1]:,.0f}] at {document['level']:.0%}; "
              f"{document['observed']:,} named on the lists.", markup=True)
    because = document.get("chosen_because") or (document.get("diagnostics") or {}).get("chosen_because")
    if because:
        err.print(f"method {document['method']} chosen: {because}", markup=False, highlight=False)
    for warning in document.get("warnings", []):
        err.print(f"[bold yellow]warning:[/] {escape(warning)}", markup=True, highlight=False)
    strata = document.get("strata") or []
    if strata:
        # A note is numbered in the table and said in full below it (a long note would make a tall row);
        # the same note in several strata has one number. (Names and notes are data, not rich markup.)
        numbered: dict[str, int] = {}
        for s in strata:
            for warning in s.get("warnings") or []:
                numbered.setdefault(warning, len(numbered) + 1)
        table = Table("stratum", "named", "estimate", "interval", "lists", *(("notes",) if numbered else ()))
        for s in strata:
            note = (", ".join(str(numbered[w]) for w in s.get("warnings") or []),) if numbered else ()
            if s.get("estimate") is None:
                table.add_row(str(s["name"]), _count(s.get("observed")), "", "", "", *note)
            else:
                table.add_row(str(s["name"]), _count(s["observed"]), _stratum_estimate(s['estimate']),
                              f"[{s['interval'][0]:,.0f}, {s['interval'][1]:,.0f}]", str(len(s["lists"])), *note)
        out.print(table)
        for warning, number in numbered.items():
            out.print(f"  {number}. {warning}", markup=False, highlight=False)
        total = document["strata_total"]
        out.print(f"Sum over strata: [bold]{total['estimate']:,.0f}[/] ({total['strata_estimated']} of {total['strata']} "
                  f"strata estimated; {_count(total['observed_in_unestimated_strata'])} named in the others, counted as named). "
                  "A sum of the strata's estimates, not an estimate of the total (docs/methods.md: why the strata need "
                  "not add up to the total).", markup=True)
    uncertainty = document.get("uncertainty")
    if uncertainty:
        drawn = [w for w, on in (("the linkage", uncertainty["linkage"]),
                                 (f"the missing strata of {uncertainty['persons_imputed']:,.0f} persons",
                                  uncertainty["missing_strata_imputed"])) if on]
        line = f"Combined over {uncertainty['replicates']} versions of the data drawing {' and '.join(drawn)}"
        if "share_of_width_from_linkage" in uncertainty:
            line += f"; {uncertainty['share_of_width_from_linkage']:.0%} of the interval's width comes from the linkage"
        out.print(line + ".", markup=False)
    sensitivity = document.get("linkage_sensitivity")
    if sensitivity:
        for run in sensitivity["runs"]:
            out.print(f"  linkage threshold {run['threshold']}: {run['persons']:,} persons -> {run['estimate']:,.0f} "
                      f"[{run['interval'][0]:,.0f}, {run['interval'][1]:,.0f}]")
        out.print(f"  spread across thresholds: {sensitivity['spread']:,.0f}")


@estimate_app.command("table")
@handle_errors
@with_estimate_options
def estimate_table_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV: one 0/1 column per list and a count column.")],
    options: dict,
    as_json: JsonOption = False,
) -> None:
    """Estimate the total from a capture table file (works without a workspace; stored when there is one).

    Without --method the method is chosen from the number of lists (see --method) and the reason
    is printed (in the JSON document: chosen_because).

    Example: dadkhah estimate table kosovo.csv --method lcmcr --seed 1 --json
    """
    from dadkhah.estimate import estimate_table, method_parameters, read_table
    from dadkhah.estimate.registry import record_table_estimate

    plot, plot_language, method = options.pop("plot"), _plot_language(options.pop("plot_language")), options.pop("method")
    if plot:
        checked_chart_path(plot)
    table = read_table(file)
    params = method_parameters(method, **options)
    with progress_bar(f"estimating ({method})") as progress:
        result = estimate_table(table, method, **params)
        progress(1, 1)
    document = result.to_dict() | {"strata": [], "input": str(file)}
    try:
        with opened_store(ctx) as store:
            document["id"] = record_table_estimate(store, result, actor=cli_actor(ctx), input_name=file.name)
    except WorkspaceError:
        document["id"] = None  # no workspace here: the estimate is printed, not stored
    if plot:
        document["plot"] = plot_estimate(document, plot, language=plot_language)
    if as_json:
        emit_json(document)
    else:
        _show(document)


def _plot_language(language: str) -> str:
    if language not in CHART_LANGUAGES:
        raise InputError(f"must be one of {', '.join(CHART_LANGUAGES)}, not {language!r}", field="plot_language")
    return language


@estimate_app.command("run")
@handle_errors
@with_estimate_options
def estimate_run(
    ctx: typer.Context,
    options: dict,
    by: Annotated[str | None, typer.Option("--by", help="Stratify by city, province, month or gender.")] = None,
    linkage_thresholds: Annotated[str | None, typer.Option("--linkage-thresholds", help="e.g. 0.5,0.9,0.99: re-estimate under each clustering.")] = None,
    replicates: Annotated[int, typer.Option("--replicates", min=2, max=200, help="How many versions of the data (drawn linkage, drawn missing strata) to estimate on and combine.")] = 10,
    linkage_uncertainty: Annotated[bool | None, typer.Option("--linkage-uncertainty/--no-linkage-uncertainty", help="Carry the linkage's own uncertainty into the interval (default: on when the linkage run kept its pairs).")] = None,
    keep_unknown: Annotated[bool, typer.Option("--keep-unknown", help="With --by: keep persons whose stratum is unknown as an 'unknown' stratum instead of drawing one for them.")] = False,
    background: Annotated[bool, typer.Option("--background", help="Submit it as a background job and print the job's number (a worker runs it: `dadkhah worker`, or the one `dadkhah serve` starts).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Estimate the total from the linked registry, overall and by stratum.

    Without --method the method is chosen for each table estimated from its own number of lists:
    the whole registry's, and each stratum's (lists that name nobody in a stratum are left out there).
    With --background the estimate is a job that a worker runs (follow it with `dadkhah jobs show`).

    Example: dadkhah estimate run --method lcmcr --by city --plot toll.svg --plot-language fa
    """
    from dadkhah.estimate.registry import run_registry_estimate

    plot, plot_language, method = options.pop("plot"), _plot_language(options.pop("plot_language")), options.pop("method")
    try:
        thresholds = [float(x) for x in linkage_thresholds.split(",")] if linkage_thresholds else []
    except ValueError:
        raise InputError(f"takes probabilities separated by commas, not {linkage_thresholds!r}",
                         field="linkage_thresholds") from None
    options |= {"replicates": replicates, "linkage_uncertainty": linkage_uncertainty, "keep_unknown": keep_unknown}
    if plot:
        checked_chart_path(plot)  # before the estimate, which may take minutes
    if background:
        _submit_estimate(ctx, method=method, by=by, thresholds=thresholds, options=options, plot=plot, as_json=as_json)
        return
    with opened_store(ctx) as store, progress_bar(f"estimating ({method})") as progress:
        document = run_registry_estimate(store, actor=cli_actor(ctx), method=method, by=by, thresholds=thresholds,
                                         progress=progress, **options)
        if plot:
            with store.session() as session:
                names = stratum_labels(session, by, plot_language)
            document["plot"] = plot_estimate(document, plot, language=plot_language, names=names,
                                             workspace=store.workspace)
    if as_json:
        emit_json(document)
    else:
        _show(document)
        if plot:
            out.print(f"Chart: {document['plot']}", markup=False)


def _submit_estimate(ctx: typer.Context, *, method: str, by: str | None, thresholds: list[float], options: dict,
                     plot: Path | None, as_json: bool) -> None:
    """Queue the estimate as a background job, with the same parameters as a run here would take."""
    from dadkhah.cli.jobs import show_job_text
    from dadkhah.jobs import show_job, submit_job

    if plot:
        raise InputError("a background estimate draws no chart: run it here to draw one", field="plot")
    parameters = {"method": method, "by": by, "linkage_thresholds": thresholds,
                  **{k: v for k, v in options.items() if v is not None}}
    with opened_store(ctx) as store:
        job_id = submit_job(store, actor=cli_actor(ctx), kind="estimate run", parameters=parameters)
        with store.session() as session:
            job = show_job(session, job_id)
    if as_json:
        emit_json(job)
        return
    show_job_text(job)
    err.print(f"Queued as job {job_id}: a worker runs it (`dadkhah worker`, or the one `dadkhah serve` starts); "
              f"follow it with `dadkhah jobs show {job_id}`.", markup=False, highlight=False)


@estimate_app.command("show")
@handle_errors
def estimate_show(
    ctx: typer.Context,
    estimate_id: Annotated[int, typer.Argument(help="the estimate's number (see `dadkhah estimate list`)")],
    as_json: JsonOption = False,
) -> None:
    """One stored estimate as it was made: the figure, its interval, warnings, strata and sensitivity.

    Example: dadkhah estimate show 3 --json
    """
    from dadkhah.estimate.stored import estimate_report

    with opened_store(ctx) as store, store.session() as session:
        document = estimate_report(session, estimate_id)
    if as_json:
        emit_json(document)
        return
    _show(document)


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
