"""Capture tables and estimate results: what every estimator takes and gives.

A *capture table* says, for each combination of lists (a *capture pattern* such as "on list A and
list C, not on B"), how many people were recorded with exactly that combination. The people on
no list at all — the number every method estimates — are by definition missing from it.

Every estimator follows the scikit-learn conventions (see STYLE.md): keyword-only parameters stored
by ``__init__``, ``fit(table)`` returns ``self`` and sets attributes ending in ``_``, and each has
a function twin. After ``fit``, ``result_`` is an immutable :class:`EstimateResult` holding the
method, parameters, the input's digest and the software versions: what reports and courts see.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from dadkhah.errors import DadkhahError, InputError


class EstimationError(DadkhahError):
    """The method cannot give an honest number for this table (and says why)."""


@dataclass(frozen=True)
class CaptureTable:
    """Counts of people by capture pattern. Patterns are unique and never all zero."""

    lists: tuple[str, ...]
    patterns: np.ndarray  # (cells, lists) of 0/1
    counts: np.ndarray  # (cells,) of positive integers

    def __post_init__(self):
        patterns = np.asarray(self.patterns, dtype=np.int8)
        counts = np.asarray(self.counts, dtype=np.int64)
        if patterns.ndim != 2 or patterns.shape[1] != len(self.lists) or patterns.shape[0] != counts.shape[0]:
            raise ValueError("patterns must be (cells, lists) and counts (cells,)")
        keep = counts > 0
        order = np.lexsort(patterns[keep].T[::-1])
        object.__setattr__(self, "patterns", patterns[keep][order])
        object.__setattr__(self, "counts", counts[keep][order])
        self.patterns.setflags(write=False)
        self.counts.setflags(write=False)

    @property
    def n_lists(self) -> int:
        return len(self.lists)

    @property
    def observed(self) -> int:
        return int(self.counts.sum())

    def digest(self) -> str:
        """SHA-256 of the table's content: the same table always has the same digest."""
        canonical = {"lists": list(self.lists), "cells": [[*map(int, p), int(c)] for p, c in zip(self.patterns, self.counts, strict=True)]}
        return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()

    def list_sizes(self) -> dict[str, int]:
        return {name: int(self.counts[self.patterns[:, j] == 1].sum()) for j, name in enumerate(self.lists)}

    def times_seen(self) -> np.ndarray:
        """f[k] = how many people are on exactly k lists (k = 1..J)."""
        hits = self.patterns.sum(axis=1)
        return np.array([int(self.counts[hits == k].sum()) for k in range(1, self.n_lists + 1)])

    def without_empty_lists(self) -> tuple[CaptureTable, tuple[str, ...]]:
        """The table without the lists that record nobody in it, and their names.

        A list that names nobody here says nothing about whom the other lists missed; kept, it
        would count as a list that missed everyone (and change the method chosen, Chao's factor
        (t - 1)/t, or leave a log-linear model unidentifiable). Fewer than two lists left: refused.
        """
        recorded = self.patterns.astype(bool).any(axis=0) if len(self.counts) else np.zeros(self.n_lists, dtype=bool)
        if recorded.all():
            return self, ()
        if recorded.sum() < 2:
            named = [name for name, on in zip(self.lists, recorded, strict=True) if on]
            raise EstimationError(f"{'only list ' + repr(named[0]) if named else 'no list'} records anyone in this "
                                  "table: estimation needs at least two lists that do")
        kept = tuple(name for name, on in zip(self.lists, recorded, strict=True) if on)
        empty = tuple(name for name, on in zip(self.lists, recorded, strict=True) if not on)
        return CaptureTable(kept, self.patterns[:, recorded], self.counts), empty

    def to_dict(self) -> dict:
        return {"lists": list(self.lists), "observed": self.observed,
                "cells": [{"pattern": "".join(map(str, p)), "count": int(c)} for p, c in zip(self.patterns, self.counts, strict=True)]}

    @classmethod
    def from_patterns(cls, lists, patterns, counts) -> CaptureTable:
        """Validated construction (used by the registry): at least two lists, no all-zero pattern."""
        lists = tuple(lists)
        patterns = np.asarray(patterns, dtype=np.int8).reshape(-1, len(lists))
        counts = np.asarray(counts, dtype=np.int64)
        if len(lists) < 2:
            raise EstimationError("estimation needs at least two lists; with one list nothing can be said about who it missed")
        if (patterns.sum(axis=1) == 0).any():
            raise EstimationError("a capture pattern on no list at all is what is being estimated; it cannot be given")
        # Merge repeated patterns (the registry may produce them across strata).
        merged: dict[tuple, int] = {}
        for pattern, count in zip(map(tuple, patterns.tolist()), counts.tolist(), strict=True):
            merged[pattern] = merged.get(pattern, 0) + int(count)
        if not merged:
            return cls(lists, np.zeros((0, len(lists)), dtype=np.int8), np.zeros(0, dtype=np.int64))
        return cls(lists, np.array(list(merged)), np.array(list(merged.values())))


def read_table(path: str | Path) -> CaptureTable:
    """Read a capture table CSV: one 0/1 column per list and a ``count`` column (any case). As a list
    file is read: its encoding found the same way (a BOM, UTF-8, UTF-16, else Windows-1256 or 1252),
    and the columns separated by commas, or by the semicolons or tabs a spreadsheet saves instead.

    Refused, with the line and column named: a cell that is not 0 or 1, a count that is negative
    or not a whole number, a pattern that repeats an earlier line, the all-zero pattern (those
    people are the unknown), fewer than two lists.
    """
    from dadkhah.ingest.readers import small_table

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "is not a file", file=str(path))
    with small_table(path) as rows:
        return _read_table(rows, str(path))


_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")  # Persian and Arabic-Indic digits
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
MAX_COUNT = 10**12  # more people than that in one cell is a mistake, not a count


def _read_table(rows, name: str) -> CaptureTable:
    _, header = next(rows, (1, None))
    if not header:
        raise InputError("the table is empty", file=name, line=1)
    header = [h.strip() for h in header]
    named_count = [i for i, h in enumerate(header) if h.casefold() == "count"]
    if not named_count:
        raise InputError("the table needs a 'count' column", file=name, line=1)
    count_at = named_count[0]
    lists = tuple(h for i, h in enumerate(header) if i != count_at)
    if len(lists) < 2:
        raise InputError("the table needs at least two list columns besides 'count'", file=name, line=1)
    if len(set(lists)) != len(lists):
        raise InputError("two list columns have the same name", file=name, line=1)
    seen: dict[tuple, int] = {}
    patterns, counts = [], []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"the line has {len(row)} cells but the header has {len(header)} columns", file=name, line=line)
        pattern = []
        for i, cell in enumerate(row):
            value = cell.strip().translate(_DIGITS)
            if i == count_at:
                try:
                    if not _NUMBER.fullmatch(value):  # float() also reads "1_000", "nan" and "inf"
                        raise ValueError(value)
                    number = float(value)
                except ValueError:
                    raise InputError(f"the count {value!r} is not a number", file=name, line=line, field="count") from None
                if number < 0 or not number.is_integer():
                    raise InputError(f"the count {value!r} must be a whole number of people, 0 or more", file=name, line=line, field="count")
                if number > MAX_COUNT:
                    raise InputError(f"the count {value!r} is more people than ever lived", file=name, line=line, field="count")
                count = int(number)
            elif value in ("0", "1"):
                pattern.append(int(value))
            else:
                raise InputError(f"{value!r} is not 0 or 1", file=name, line=line, field=header[i])
        key = tuple(pattern)
        if not any(key):
            raise InputError("the pattern on no list is the unknown being estimated; remove this line", file=name, line=line)
        if key in seen:
            raise InputError(f"this pattern repeats line {seen[key]}", file=name, line=line)
        seen[key] = line
        patterns.append(pattern)
        counts.append(count)
    if not patterns:
        raise InputError("the table has no rows", file=name, line=2)
    table = CaptureTable(lists, np.array(patterns), np.array(counts))
    if table.observed == 0:
        raise InputError("every count is 0: the table records nobody", file=name, line=2, field="count")
    try:
        table.without_empty_lists()
    except EstimationError as refused:
        raise InputError(str(refused), file=name, line=1) from None
    return table


def software_versions() -> dict[str, str]:
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    """Read once per process (each read searches the installed packages' metadata, 7 ms): the
    code a process runs is the code it loaded, whatever is installed later."""
    found = []
    for package in ("dadkhah", "numpy", "numba", "scipy", "statsmodels", "arviz"):
        try:
            found.append((package, version(package)))
        except PackageNotFoundError:
            continue
    return tuple(found)


@dataclass(frozen=True)
class EstimateResult:
    """One estimate, with everything needed to reproduce and to read it."""

    method: str
    observed: int
    estimate: float
    interval: tuple[float, float]
    level: float
    model: str
    parameters: dict
    diagnostics: dict
    input_sha256: str
    lists: tuple[str, ...]
    software: dict = field(default_factory=software_versions)
    warnings: tuple[str, ...] = ()
    chosen_because: str | None = None  # set when the method was chosen automatically ("auto"): why this one

    def to_dict(self) -> dict:
        data = asdict(self)
        data["interval"] = list(self.interval)
        data["lists"] = list(self.lists)
        data["warnings"] = list(self.warnings)
        return data


class Estimator:
    """Base of every estimator: parameters in ``__init__``, results after ``fit`` (suffix ``_``)."""

    method = ""

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def fit(self, table: CaptureTable) -> Estimator:  # pragma: no cover - overridden
        raise NotImplementedError

    def _check(self, table: CaptureTable) -> None:
        if not isinstance(table, CaptureTable):
            raise TypeError("fit() takes a CaptureTable (see dadkhah.estimate.read_table)")
        if table.n_lists < 2:
            raise EstimationError("estimation needs at least two lists")
        if table.observed == 0:
            raise EstimationError("the table records nobody")
