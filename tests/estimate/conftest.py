"""Published capture tables (tests/data/mse, sources in its README) and small hand-made ones."""

from __future__ import annotations

from pathlib import Path

from dadkhah.estimate import CaptureTable, read_table

MSE = Path(__file__).resolve().parents[1] / "data" / "mse"


def published(name: str) -> CaptureTable:
    """One of the published tables by file stem, e.g. ``published("korea_comfort_women")``."""
    return read_table(MSE / f"{name}.csv")


def table(lists: str, **cells: int) -> CaptureTable:
    """``table("AB", p10=100, p01=80, p11=50)``: one keyword per pattern."""
    patterns = [[int(c) for c in key[1:]] for key in cells]
    return CaptureTable.from_patterns(tuple(lists), patterns, list(cells.values()))
