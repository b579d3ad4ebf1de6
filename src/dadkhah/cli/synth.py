"""The synthetic case generator command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dadkhah.cli.common import JsonOption, emit_json, handle_errors, out, progress_bar
from dadkhah.synth import generate_case


@handle_errors
def synth(
    victims: Annotated[int, typer.Option("--victims", min=1, help="How many people the population holds.")],
    lists: Annotated[int, typer.Option("--lists", min=1, help="How many lists record them.")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the case into.")],
    difficulty: Annotated[str, typer.Option("--difficulty", help="easy, realistic or hard.")] = "realistic",
    cities: Annotated[int, typer.Option("--cities", min=1, help="How many cities the victims come from.")] = 32,
    coverage: Annotated[float | None, typer.Option("--coverage", help="Override every list's coverage (0-1].")] = None,
    heterogeneity: Annotated[float, typer.Option(
        "--heterogeneity", help="How much people differ in how findable they are on every list (0-3, default 0.9).")] = 0.9,
    as_json: JsonOption = False,
) -> None:
    """Write a synthetic case with known truth: one CSV per list, truth.csv, population.csv and an accountability/ set.

    Example: dadkhah synth --victims 5000 --lists 6 --seed 1988 --out case/ --difficulty hard
    """
    with progress_bar(f"generating {victims:,} victims and {lists} lists") as progress:
        case = generate_case(out_dir, victims=victims, lists=lists, seed=seed, difficulty=difficulty, cities=cities,
                             coverage=coverage, heterogeneity=heterogeneity, progress=progress)
    if as_json:
        emit_json(case.to_dict())
        return
    table = Table("list", "kind", "script", "names", "dates", "rows", "persons", title=f"{case.observed:,} of {case.victims:,} victims appear on a list")
    for item in case.lists:
        table.add_row(item["name"], item["kind"], item["script"], item["names"], item["date_style"], f"{item['rows']:,}", f"{item['persons']:,}")
    out.print(table)
    out.print(f"Written to {case.out} (truth.csv maps each record to its person).", markup=False)
    out.print(f"Accountability set (institutions, officials, posts, acts, sites) in {case.accountability}"
              " (truth.json holds its answers).", markup=False)
