"""The one module that talks to Splink, and through it to DuckDB or Spark.

Everything else in Dadkhah describes linkage in its own terms (:mod:`dadkhah.link.model`) and
hands over an Arrow table of features; this module builds the Splink model, counts the pairs the
blocking rules make, trains, scores, and gives back the scored pairs as Arrow plus the trained
model as JSON. Nothing is downloaded at run time: DuckDB's extension auto-install and auto-load
are switched off.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from dadkhah.errors import DadkhahError, InputError
from dadkhah.link.model import Comparison, Level, LinkageModel

ENGINES = ("duckdb", "spark")
PRIOR_FLOOR = 1e-4  # pairs scored below this probability hardly move the prior's estimate
LEAST_PRIOR = 1e-12  # the least share of pairs that are matches the prior's estimate may give


def _level(level: Level):
    created = _level_creator(level)
    if level.m_prior is not None or level.u_prior is not None:
        created = created.configure(m_probability=level.m_prior, u_probability=level.u_prior)
    return created


def _level_creator(level: Level):
    import splink.comparison_level_library as cll

    if level.kind == "null":
        return cll.CustomLevel(level.sql, level.label, base_dialect_str="duckdb").configure(is_null_level=True)
    if level.kind == "else":
        return cll.ElseLevel().configure(label_for_charts=level.label)
    if level.kind == "exact":
        created = cll.ExactMatchLevel(level.column)
        if level.tf_column:
            created = created.configure(tf_adjustment_column=level.tf_column, tf_adjustment_weight=1.0)
        return created.configure(label_for_charts=level.label)
    if level.kind == "jaro_winkler":
        return cll.JaroWinklerLevel(level.column, level.threshold).configure(label_for_charts=level.label)
    if level.kind == "sql":
        return cll.CustomLevel(level.sql, level.label, base_dialect_str="duckdb")
    raise ValueError(f"unknown level kind {level.kind!r}")


def _comparison(comparison: Comparison):
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name=comparison.name,
        comparison_levels=[_level(level) for level in comparison.levels],
        comparison_description=comparison.description,
    )


def _rule(rule):
    """A Splink blocking rule from our ``Blocking`` (or from plain SQL, for training rules)."""
    from splink.blocking_rule_library import CustomRule

    if isinstance(rule, str):
        return CustomRule(rule, sql_dialect="duckdb")
    return CustomRule(rule.sql, sql_dialect="duckdb", arrays_to_explode=list(rule.explode) or None)


def settings_for(model: LinkageModel):
    """The Splink settings of our model (untrained)."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",  # one table holding every list: links lists and finds duplicates within them at once
        comparisons=[_comparison(c) for c in model.comparisons],
        blocking_rules_to_generate_predictions=[_rule(r) for r in model.blocking_rules],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,  # each comparison's weight: what agreed, what did not
        additional_columns_to_retain=[],
        unique_id_column_name="unique_id",
        max_iterations=25,
        em_convergence=0.0001,
    )


def _duckdb_api(temp_dir: str | None, threads: int | None, memory_limit: str | None):
    import duckdb
    from splink import DuckDBAPI

    config = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "threads": threads or os.cpu_count() or 1,
        "preserve_insertion_order": False,
    }
    if temp_dir:
        config["temp_directory"] = temp_dir
    if memory_limit:
        config["memory_limit"] = memory_limit
    connection = duckdb.connect(":memory:", config=config)
    # DuckDB draws progress bars on standard output when it thinks it runs interactively (as under
    # `python -c`): they would land inside a command's JSON. Linkage reports its own progress.
    connection.execute("SET enable_progress_bar = false")
    return DuckDBAPI(connection), connection


SPARK_LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


@contextmanager
def _jvm_output_kept(path: Path) -> Iterator[None]:
    """Around the start of Spark's Java process: what it writes to stderr (the JVM's and Spark's
    start-up notes, before any logging setting applies) goes to ``path``, not to the terminal.

    The Java process inherits the file for its life; its errors reach the user as the exceptions
    PySpark raises. While the block runs (the seconds Spark takes to start), this process's own
    stderr goes there too: the CLI prints nothing then, a server's log lines of those seconds land
    in the file."""
    sys.stderr.flush()
    saved = os.dup(2)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.dup2(target, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def _spark_api(temp_dir: str | None):
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pyspark is an optional extra
        raise DadkhahError("the Spark engine needs pyspark: pip install 'dadkhah[spark]'") from exc
    from splink.backends.spark import SparkAPI
    from splink.internals.spark.jar_location import similarity_jar_location

    builder = (
        SparkSession.builder.master(os.environ.get("DADKHAH_SPARK_MASTER", "local[*]"))
        .appName("dadkhah-linkage")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(max(4, 2 * (os.cpu_count() or 1))))
        .config("spark.driver.memory", os.environ.get("DADKHAH_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Splink's string-similarity functions, shipped inside the splink package: nothing is fetched.
        .config("spark.jars", similarity_jar_location())
        # Quiet: no console progress bars, and Spark's own logging at errors only (not its start-up notes).
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions",
                f"-Djava.net.preferIPv4Stack=true -Dlog4j2.configurationFile={SPARK_LOG_CONFIG.as_uri()}")
    )
    if temp_dir:
        builder = builder.config("spark.local.dir", temp_dir)
    # Spark SQL's warehouse folder defaults to ./spark-warehouse: not in the user's working folder.
    builder = builder.config("spark.sql.warehouse.dir", str(Path(temp_dir or tempfile.gettempdir()) / "spark-warehouse"))
    with _jvm_output_kept(Path(temp_dir or tempfile.gettempdir()) / f"spark-jvm-{os.getpid()}.log"):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="dadkhah-spark-", dir=temp_dir))
    return SparkAPI(spark_session=spark), spark


ORDERED = ("birth_date", "death_date")  # comparisons whose levels go from closest to furthest apart


def smooth_model(model_json: dict, alpha: float, u_floor: float, ordered: tuple[str, ...] = ORDERED) -> dict:
    """Add ``alpha`` to every m-probability of a comparison and renormalise; floor the u-probabilities;
    in the ``ordered`` comparisons, never let a level weigh more than a closer one (:func:`_in_order`).

    EM on a finite sample gives m = 0 to levels it never saw among matches (a different gender, a
    different prison), which would make one disagreement veto any match. Real lists disagree for
    many reasons: a pseudo-count keeps every level possible.
    """
    smoothed = json.loads(json.dumps(model_json))
    for comparison in smoothed["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        m_values = [lv.get("m_probability") for lv in levels]
        known = [m for m in m_values if m is not None]
        fill = (1 - sum(known)) / max(1, m_values.count(None)) if m_values.count(None) else 0.0
        m_values = [max(0.0, fill) if m is None else m for m in m_values]
        total = sum(m_values) + alpha * len(levels)
        for level, m in zip(levels, m_values, strict=True):
            level["m_probability"] = (m + alpha) / total
            u = level.get("u_probability")
            level["u_probability"] = max(u_floor, u if u is not None else u_floor)
        if comparison.get("output_column_name") in ordered:
            _in_order(levels)
    return smoothed


def _in_order(levels: list[dict]) -> None:
    """Pool adjacent levels whose evidence runs the wrong way (pool-adjacent-violators on the Bayes
    factor m/u): two deaths a month apart must not count as more against a match than two deaths
    further apart (EM gave -5.03 and -4.22 bits on the demo, so deaths 92 days apart scored above
    deaths 26 days apart). A pooled block's factor is its m's sum over its u's sum; each level keeps
    its u, and the m's still add up to what they did."""
    blocks: list[list[int]] = []
    for index in range(len(levels)):
        blocks.append([index])
        while len(blocks) > 1 and _factor(levels, blocks[-2]) < _factor(levels, blocks[-1]):
            last = blocks.pop()
            blocks[-1].extend(last)
    for block in blocks:
        if len(block) > 1:
            factor = _factor(levels, block)
            for index in block:
                levels[index]["m_probability"] = factor * levels[index]["u_probability"]


def _factor(levels: list[dict], block: list[int]) -> float:
    return sum(levels[i]["m_probability"] for i in block) / sum(levels[i]["u_probability"] for i in block)


def estimate_prior(weights, total_pairs: int, prior: float, *, iterations: int = 50) -> float:
    """Re-estimate the share of all pairs that are matches, from the scored pairs' match weights.

    ``weights`` already include ``prior``. Each step sets the prior to the expected number of
    matches (the sum of the pairs' probabilities under the current prior) over all possible pairs;
    this is expectation maximisation on the prior alone, assuming the blocking rules let through
    nearly every true match. It replaces a guess about how many matches simple rules find.
    """
    import numpy as np

    # Sorted, so that the sums (and every probability after them) do not depend on the order in
    # which the engine gave the pairs, which its threads do not fix.
    w = np.sort(np.asarray(weights, dtype=float))
    if total_pairs <= 0 or w.size == 0:
        return prior
    base = np.log2(prior / (1 - prior))
    current = prior
    for _ in range(iterations):
        shift = np.log2(current / (1 - current)) - base
        expected = float(np.sum(1.0 / (1.0 + np.exp2(-(w + shift)))))
        updated = min(0.5, max(LEAST_PRIOR, expected / total_pairs))
        if abs(updated - current) <= 1e-4 * current:
            current = updated
            break
        current = updated
    return current


class _Collected(logging.Handler):
    def __init__(self, messages: list[str]):
        super().__init__(logging.INFO)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def splink_messages() -> Iterator[list[str]]:
    """Collect what Splink logs instead of letting it reach the terminal.

    Splink warns once per level it never saw in a training pass ("Level ... not observed in
    dataset"), and again for each pass: a dozen lines of its internals that change nothing the user
    should do. They are summarised once, in plain words, in the run's notes (:func:`plain_notes`).
    """
    messages: list[str] = []
    loggers = [logging.getLogger(name) for name in ("splink", "py4j")]
    saved = [(logger, logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    handler = _Collected(messages)
    for logger in loggers:
        for existing in logger.handlers[:]:
            logger.removeHandler(existing)
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
        # Splink's own advice on its sampled pair count: the count is only a guard here.
        messages.extend(str(w.message) for w in caught if "sampled blocking analysis" not in str(w.message))
    finally:
        for logger, handlers, propagate, level in saved:
            logger.removeHandler(handler)
            for existing in handlers:
                logger.addHandler(existing)
            logger.propagate = propagate
            logger.setLevel(level)


_NOT_OBSERVED = re.compile(r"Level (?P<level>.+?) on comparison (?P<comparison>\S+) not observed in dataset, "
                           r"unable to train (?P<which>[mu]) value")


def comparison_titles(model: LinkageModel) -> dict[str, str]:
    return {c.name: re.split(r",| \(| as an", c.description)[0].lower() for c in model.comparisons}


# Splink's messages that change nothing a user should do: the u-sample's size is chosen on purpose
# (dadkhah.link.model.TRAINING), and an EM pass that finds no pair says so in a note of its own.
_NOT_FOR_USERS = ("default value for `max_pairs`", "[EM sampling]",
                  "does not yet fully support pandas",  # PySpark's advice to its own developers
                  "No null level found")  # (a comparison of a value every record has: the list)


def plain_notes(messages: list[str], titles: dict[str, str]) -> list[str]:
    """Splink's messages, said once each in plain words (unseen levels grouped into one note)."""
    unseen: dict[str, list[str]] = {}
    other: list[str] = []
    for message in messages:
        text = " ".join(message.replace("WARNING:", " ").split())
        found = _NOT_OBSERVED.search(text)
        if found:
            levels = unseen.setdefault(titles.get(found["comparison"], found["comparison"]), [])
            # (a last level Splink named itself: models trained before the model's labels were given it)
            level = "different" if found["level"] == "All other comparisons" else found["level"]
            if level not in levels:
                levels.append(level)
        elif text and text not in other and not any(marker in text for marker in _NOT_FOR_USERS):
            other.append(text)
    notes = []
    if unseen:
        listed = "; ".join(f"{name}: {', '.join(repr(level) for level in levels)}" for name, levels in unseen.items())
        notes.append(f"training met no example of some comparison levels ({listed}); their weights come "
                     "from smoothing, not from these records")
    return notes + other


_EQUALITY = re.compile(r"^l\.(\w+) = r\.(\w+)$")
_ONE_MISSING = re.compile(r"^\(l\.(\w+) IS NULL OR r\.(\w+) IS NULL\)$")


def _conjuncts(sql: str) -> list[str]:
    """The parts of ``sql`` joined by AND outside parentheses."""
    parts, depth, start = [], 0, 0
    for match in re.finditer(r"\(|\)|\s+AND\s+", sql):
        token = match.group()
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth == 0:
            parts.append(sql[start:match.start()])
            start = match.end()
    parts.append(sql[start:])
    return parts


def pairs_at_most(connection, table_name: str, rule, columns: list[str]) -> int | None:
    """An upper bound on the pairs one blocking rule makes, from the sizes of its blocks (DuckDB).

    For a rule ``l.a = r.a AND l.b = r.b`` it is the sum over blocks of n(n-1)/2; for a rule that
    joins different columns (``l.a = r.b``), the sum of the products of the two sides' counts. A
    condition ``(l.c IS NULL OR r.c IS NULL)`` leaves out of each block the pairs whose two records
    both give ``c``; other conditions are left out of the bound (they only remove pairs). Pairs met
    twice (through two elements of an exploded list, or both ways round) are counted twice, so the
    bound is never below the truth. None when the rule holds no equality between columns at its top
    level.
    """
    conjuncts = [part.strip() for part in _conjuncts(rule.sql)]
    parts = [m for m in (_EQUALITY.match(part) for part in conjuncts) if m]
    one_missing = [m[1] for m in (_ONE_MISSING.match(part) for part in conjuncts) if m and m[1] == m[2]][:1]
    if not parts:
        return None
    left, right = [m[1] for m in parts], [m[2] for m in parts]
    if not set(left + right + one_missing) <= set(columns):  # only the features' own column names reach the SQL
        return None
    explode = set(rule.explode)

    def keyed(columns: list[str]) -> str:
        selected = ", ".join(f"{'unnest(' + c + ')' if c in explode else c} AS k{i}" for i, c in enumerate(columns))
        present = " AND ".join(f"k{i} IS NOT NULL" for i in range(len(columns)))
        keys = ", ".join(f"k{i}" for i in range(len(columns)))
        given = f"count({one_missing[0]})" if one_missing else "0"  # records of the block that give the column
        return (f"SELECT {keys}, count(*) AS n, {given} AS g FROM (SELECT {selected}"  # noqa: S608 (known columns)
                f"{', ' + one_missing[0] if one_missing else ''} FROM \"{table_name}\") WHERE {present} GROUP BY {keys}")

    if left == right:
        both_give = "g * (g - 1) / 2" if one_missing else "0"
        sql = f"SELECT coalesce(sum(n * (n - 1) / 2 - {both_give}), 0) FROM ({keyed(left)})"  # noqa: S608
    else:
        on = " AND ".join(f"a.k{i} = b.k{i}" for i in range(len(left)))
        both_give = "a.g * b.g" if one_missing else "0"
        sql = (f"SELECT coalesce(sum(a.n * b.n - {both_give}), 0) FROM ({keyed(left)}) a "  # noqa: S608
               f"JOIN ({keyed(right)}) b ON {on}")
    return int(connection.execute(sql).fetchall()[0][0])


@dataclasses.dataclass(frozen=True)
class EarlierPairs:
    """What an earlier run's blocking rules made: every pair it scored (``unique_id_l`` below
    ``unique_id_r``), and the records among which it made them (``records``, unique ids)."""

    pairs: pa.Table
    records: pa.Array


# A run makes only the pairs of records new since the earlier run when they are at most this share
# of all records (a small list); beyond, it blocks everything afresh, as a first run does, and the
# new records' pairs would be a large part of all pairs in any case.
INCREMENTAL_AT_MOST = 0.25

_SIDE_COLUMN = re.compile(r"\b([lr])\.(\w+)\b")


def pairs_touching_sql(rule, all_table: str, new_table: str, columns: list[str]) -> str:
    """SQL for the pairs ``rule`` makes (as Splink's blocking does, the lower unique id on the left)
    in which at least one record is in ``new_table``, the others in ``all_table``.

    Splink joins a rule's records with the rule's array columns exploded (one row per element, every
    combination); a record with an empty or missing array then has no row and meets no one. Here each
    side explodes only the arrays the rule compares on that side, and keeps a record only if its other
    exploded arrays are not empty: the same pairs, from fewer rows. Tested against Splink's own
    blocking (tests/link/test_incremental_blocking.py).
    """
    used = {"l": set(), "r": set()}
    for side, column in _SIDE_COLUMN.findall(rule.sql):
        used[side].add(column)
    if not (used["l"] | used["r"]) <= set(columns):  # only the features' own column names reach the SQL
        raise ValueError(f"blocking rule names a column the features do not have: {rule.sql}")

    def side(table: str, which: str) -> str:
        sql = f'SELECT unique_id{"".join(", " + c for c in sorted(used[which]))} FROM "{table}"'  # noqa: S608
        unused = [c for c in rule.explode if c not in used[which]]
        if unused:
            sql += " WHERE " + " AND ".join(f"coalesce(len({c}), 0) > 0" for c in unused)
        for column in rule.explode:
            if column in used[which]:
                sql = f"SELECT * REPLACE (unnest({column}) AS {column}) FROM ({sql})"  # noqa: S608
        return f"({sql})"

    return " UNION ".join(
        f"SELECT l.unique_id AS unique_id_l, r.unique_id AS unique_id_r FROM {side(left, 'l')} AS l "  # noqa: S608
        f"JOIN {side(right, 'r')} AS r ON ({rule.sql}) WHERE l.unique_id < r.unique_id"
        for left, right in ((new_table, all_table), (all_table, new_table))
    )


def pairs_sql(rule, table: str, columns: list[str]) -> str:
    """SQL for the pairs ``rule`` makes among all the records of ``table`` (``unique_id_l`` below
    ``unique_id_r``): the pairs Splink's blocking makes with the rule.

    A rule without exploded arrays is one join of the records. A rule with them is joined on the
    distinct combinations of the columns it reads, not on the records: Splink joins every record's
    exploded rows, so that two records with the same names meet once for every element their lists
    share (a name of eight letters has nine one-typo forms; two such names, 81 rows for one pair), and
    for every such pair of records. Here each combination meets each other one once, and its records'
    pairs follow: the same pairs (tested against Splink's own blocking,
    tests/link/test_own_blocking.py), in 20 s instead of 56 s on 1,019,633 records.
    """
    used = sorted({column for _, column in _SIDE_COLUMN.findall(rule.sql)})
    if not set(used) | set(rule.explode) <= set(columns):  # only the features' own column names reach the SQL
        raise ValueError(f"blocking rule names a column the features do not have: {rule.sql}")
    if not rule.explode:
        return (f'SELECT l.unique_id AS unique_id_l, r.unique_id AS unique_id_r FROM "{table}" AS l '  # noqa: S608
                f'JOIN "{table}" AS r ON ({rule.sql}) WHERE l.unique_id < r.unique_id')
    read = ", ".join(used)
    # A record with no element in a list the rule explodes meets no one, even if the rule does not compare the list.
    present = " AND ".join(f"coalesce(len({c}), 0) > 0" for c in rule.explode)
    exploded = f"SELECT combination, {read} FROM combinations"  # noqa: S608
    for column in (c for c in rule.explode if c in used):
        exploded = f"SELECT * REPLACE (unnest({column}) AS {column}) FROM ({exploded})"  # noqa: S608
    return (
        # A combination is named by its first record (deterministic, however often the CTE is read).
        f"SELECT unique_id_l, unique_id_r FROM (WITH combinations AS MATERIALIZED (SELECT {read}, "  # noqa: S608
        f'min(unique_id) AS combination, list(unique_id) AS ids FROM "{table}" WHERE {present} GROUP BY ALL), '
        f"exploded AS ({exploded}), "
        f"met AS (SELECT DISTINCT l.combination AS combination_l, r.combination AS combination_r "
        f"FROM exploded AS l JOIN exploded AS r ON ({rule.sql})), "
        f"members AS (SELECT combination, unnest(ids) AS unique_id FROM combinations) "
        f"SELECT l.unique_id AS unique_id_l, r.unique_id AS unique_id_r FROM met "
        f"JOIN members AS l ON l.combination = met.combination_l JOIN members AS r ON r.combination = met.combination_r "
        f"WHERE l.unique_id < r.unique_id)"
    )


def _blocked_afresh(connection, table_name: str, features: pa.Table, model: LinkageModel) -> tuple[object, list[int]]:
    """Every pair the blocking rules make, in Splink's blocked-pairs layout (``match_key``: the first
    rule that makes the pair), and how many pairs each rule adds to those of the rules before it."""
    needed = sorted({c for rule in model.blocking_rules for c in (*(c for _, c in _SIDE_COLUMN.findall(rule.sql)), *rule.explode)}
                    & set(features.column_names))
    # The columns the rules read, copied once from Arrow into DuckDB's own table (each rule's join
    # would otherwise convert the records' lists again).
    connection.execute(f'CREATE OR REPLACE TEMP TABLE dadkhah_records AS SELECT {", ".join(["unique_id", *needed])} '  # noqa: S608
                       f'FROM "{table_name}"')
    # One rule at a time: all of them in one statement run side by side, and took 14 GB at a million
    # records where this takes under 4.
    connection.execute("CREATE OR REPLACE TEMP TABLE dadkhah_made (rule INTEGER, unique_id_l BIGINT, unique_id_r BIGINT)")
    for i, rule in enumerate(model.blocking_rules):
        connection.execute(f"INSERT INTO dadkhah_made SELECT {i}, unique_id_l, unique_id_r "  # noqa: S608
                           f"FROM ({pairs_sql(rule, 'dadkhah_records', features.column_names)})")
    connection.execute("DROP TABLE dadkhah_records")
    connection.execute("CREATE OR REPLACE TEMP TABLE dadkhah_blocked AS SELECT CAST(min(rule) AS VARCHAR) AS match_key, "
                       "unique_id_l AS join_key_l, unique_id_r AS join_key_r FROM dadkhah_made GROUP BY unique_id_l, unique_id_r")
    connection.execute("DROP TABLE dadkhah_made")
    added = dict(connection.execute("SELECT CAST(match_key AS INTEGER), count(*) FROM dadkhah_blocked GROUP BY 1").fetchall())
    return connection.table("dadkhah_blocked"), [int(added.get(i, 0)) for i in range(len(model.blocking_rules))]


def _blocked_from_earlier(connection, table_name: str, features: pa.Table, model: LinkageModel,
                          earlier: EarlierPairs) -> tuple[object, int, int] | None:
    """The pairs the blocking rules make, from an earlier run's: its pairs between records still
    current, and the pairs new records make with any record. Splink's blocked-pairs layout
    (``match_key``, ``join_key_l``, ``join_key_r``, a DuckDB relation), with the counts of pairs kept
    and made; None when the new records are too many (:data:`INCREMENTAL_AT_MOST`)."""
    current = features["unique_id"]
    new = pc.filter(current, pc.invert(pc.is_in(current, value_set=earlier.records)))
    if len(new) > INCREMENTAL_AT_MOST * features.num_rows:
        return None
    kept = earlier.pairs.filter(pc.and_(pc.is_in(earlier.pairs["unique_id_l"], value_set=current),
                                        pc.is_in(earlier.pairs["unique_id_r"], value_set=current)))
    made = pa.table({"unique_id_l": pa.array([], pa.int64()), "unique_id_r": pa.array([], pa.int64())})
    if len(new):
        # The columns the rules compare, read once from Arrow into DuckDB's own tables (forty joins
        # would otherwise each convert the records' lists again).
        needed = sorted({c for rule in model.blocking_rules for _, c in _SIDE_COLUMN.findall(rule.sql)} & set(features.column_names))
        connection.register("dadkhah_new_ids", pa.table({"unique_id": new}))
        connection.execute(f'CREATE OR REPLACE TEMP TABLE dadkhah_all_records AS SELECT unique_id, {", ".join(needed)} '  # noqa: S608
                           f'FROM "{table_name}"')
        connection.execute("CREATE OR REPLACE TEMP TABLE dadkhah_new_records AS SELECT * FROM dadkhah_all_records "
                           "SEMI JOIN dadkhah_new_ids USING (unique_id)")
        sql = " UNION ".join(f"({pairs_touching_sql(rule, 'dadkhah_all_records', 'dadkhah_new_records', features.column_names)})"
                             for rule in model.blocking_rules)
        made = connection.sql(sql).to_arrow_table()
        connection.execute("DROP TABLE dadkhah_new_records")
        connection.execute("DROP TABLE dadkhah_all_records")
        connection.unregister("dadkhah_new_ids")
    connection.register("dadkhah_blocked_ids", pa.concat_tables([kept.select(["unique_id_l", "unique_id_r"]).cast(made.schema), made]))
    connection.execute("CREATE OR REPLACE TEMP TABLE dadkhah_blocked AS SELECT '0' AS match_key, "
                       "unique_id_l AS join_key_l, unique_id_r AS join_key_r FROM dadkhah_blocked_ids")
    connection.unregister("dadkhah_blocked_ids")
    return connection.table("dadkhah_blocked"), kept.num_rows, made.num_rows


def _weight_for(probability: float) -> float:
    return math.log2(probability / (1 - probability))


class ScoringSession:
    """A trained model and every blocked pair scored, kept in the engine until closed.

    Scores are under the re-estimated prior. Ask for the pairs above a probability, for the
    strong negatives inside given groups of records, or for the full per-comparison weights of a
    few pairs; the millions of pairs in between never leave the engine.
    """

    def __init__(self, *, engine, model_json, predictions, shift, planned, blocking, seconds, notes,
                 db_api, connection, spark, comparisons, linker):
        self.engine = engine
        self.model_json = model_json
        self.comparisons_planned = planned
        self.blocking = blocking
        self.seconds = seconds
        self.notes = notes
        self._linker = linker
        self._predictions = predictions
        self._shift = shift
        self._db_api = db_api
        self._connection = connection
        self._spark = spark
        self._comparisons = comparisons
        # When the blocking started from an earlier run's: the pairs taken from it, and those made anew.
        self.pairs_kept: int | None = None
        self.pairs_made: int | None = None

    def _frame(self, frame, columns: list[str], where: str) -> pa.Table:
        if self.engine == "duckdb":
            relation = frame.as_duckdbpyrelation()
            return relation.filter(where).select(*[c for c in columns if c in relation.columns]).to_arrow_table()
        dataframe = frame.as_spark_dataframe()
        return dataframe.filter(where).select(*[c for c in columns if c in dataframe.columns]).toArrow()

    def _probability(self, table: pa.Table) -> pa.Table:
        weight = pc.add(table["match_weight"], self._shift)
        probability = pc.divide(1.0, pc.add(1.0, pc.power(2.0, pc.negate(weight))))
        table = table.set_column(table.column_names.index("match_weight"), "match_weight", weight)
        return table.append_column("match_probability", probability)

    def pairs(self, at_least: float) -> pa.Table:
        """unique_id_l, unique_id_r, match_weight, match_probability of pairs scored at or above ``at_least``."""
        cut = f"match_weight + {self._shift!r} >= {_weight_for(at_least)!r}"
        return self._probability(self._frame(self._predictions, ["unique_id_l", "unique_id_r", "match_weight"], cut))

    def pair_ids(self) -> pa.Table | None:
        """unique_id_l, unique_id_r of every pair scored, for the next run's blocking to start from
        (:class:`EarlierPairs`); None on Spark, whose runs block afresh."""
        if self.engine != "duckdb":
            return None
        return self._frame(self._predictions, ["unique_id_l", "unique_id_r"], "1 = 1")

    def negatives_within(self, components: pa.Table, below: float) -> pa.Table:
        """Pairs scored below ``below`` whose two records share a component (``unique_id, component``)."""
        cut = _weight_for(below) - self._shift
        if self.engine == "duckdb":
            relation = self._predictions.as_duckdbpyrelation()
            groups = self._connection.from_arrow(components)
            left = relation.filter(f"match_weight < {cut!r}").set_alias("p")
            joined = left.join(groups.set_alias("a"), "p.unique_id_l = a.unique_id").join(
                groups.set_alias("b"), "p.unique_id_r = b.unique_id")
            return joined.filter("a.component = b.component").select("p.unique_id_l", "p.unique_id_r").to_arrow_table()
        from pyspark.sql import functions as F

        predictions = self._predictions.as_spark_dataframe().filter(F.col("match_weight") < cut)
        groups = self._spark.createDataFrame(components)
        a, b = groups.alias("a"), groups.alias("b")
        joined = predictions.alias("p").join(a, F.col("p.unique_id_l") == F.col("a.unique_id")).join(
            b, F.col("p.unique_id_r") == F.col("b.unique_id"))
        return joined.filter(F.col("a.component") == F.col("b.component")).select("p.unique_id_l", "p.unique_id_r").toArrow()

    def details(self, pairs: pa.Table) -> pa.Table:
        """Each comparison's weight (``mw_<comparison>``, ``mw_tf_adj_<comparison>``) for the given pairs."""
        if pairs.num_rows == 0:
            return pairs
        with splink_messages() as messages:
            scored = self._details(pairs)
        self.notes = self.notes + [m for m in plain_notes(messages, {}) if m not in self.notes]
        return scored

    def _details(self, pairs: pa.Table) -> pa.Table:
        # The scoring's own linker, told to keep each comparison's weight (which the prior does not
        # move): a second linker would cost a third of a second to set up.
        linker = self._linker
        blocked = pa.table({
            "match_key": pa.array(["0"] * pairs.num_rows),
            "join_key_l": pairs["unique_id_l"],
            "join_key_r": pairs["unique_id_r"],
        })
        if self.engine == "spark":
            blocked = self._spark.createDataFrame(blocked)
        linker.table_management.register_blocked_pairs_for_predict(self._db_api.register(blocked))
        settings = linker._settings_obj
        settings._retain_intermediate_calculation_columns = True
        try:
            scored = linker.inference.predict()
        finally:
            settings._retain_intermediate_calculation_columns = False
        columns = ["unique_id_l", "unique_id_r"] + [f"mw_{c}" for c in self._comparisons] + [f"mw_tf_adj_{c}" for c in self._comparisons]
        return self._frame(scored, columns, "1 = 1")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> ScoringSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _bounds(features: pa.Table, model: LinkageModel, connection, table_name: str | None) -> list[int | None]:
    """:func:`pairs_at_most` for every blocking rule, on the engine's DuckDB connection, or on a
    DuckDB connection of its own (the Spark engine's)."""
    import duckdb

    own = None
    if connection is None:
        own = connection = duckdb.connect()
        connection.execute("SET enable_progress_bar = false")  # (see _duckdb_api)
        connection.register("records_for_bounds", features)
        table_name = "records_for_bounds"
    try:
        return [pairs_at_most(connection, table_name, rule, features.column_names) for rule in model.blocking_rules]
    finally:
        if own is not None:
            own.close()


def _cannot_train(records: int, why: str) -> DadkhahError:
    return DadkhahError(
        f"the linkage model cannot be trained on these {records:,} records: {why}. Training learns what a "
        "match looks like from records that surely are one person; import more lists, or longer ones that "
        "overlap, and link again. Until then the registry stays as it is (and decisions on pairs can still "
        "be recorded)."
    )


def score(
    features: pa.Table,
    model: LinkageModel,
    *,
    engine: str = "duckdb",
    seed: int = 1988,
    max_comparisons: float = 2e8,
    temp_dir: str | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    trained: dict | None = None,
    earlier: EarlierPairs | None = None,
) -> ScoringSession:
    """Count the blocked pairs, train the model on ``features`` (or take ``trained``), and score every blocked pair.

    Before any pair is scored, the pairs the blocking rules make are counted; more than
    ``max_comparisons`` is refused with the count per rule, because it would not finish (or would
    exhaust memory) on the machine at hand. ``trained`` is a model an earlier run trained (Splink
    JSON): it is used as it is, except for the prior, which is always re-estimated on these records.
    ``earlier`` is what an earlier run's blocking made, among records whose features have not changed
    since (the caller's guarantee): on DuckDB only the pairs of records new since then are made here,
    the others taken from it, and every pair is scored as a full run scores it (the same pairs, the
    same scores). What Splink logs is kept in the session's notes, not printed.
    """
    with splink_messages() as messages:
        session = _score(features, model, engine=engine, seed=seed, max_comparisons=max_comparisons,
                         temp_dir=temp_dir, threads=threads, memory_limit=memory_limit, trained=trained,
                         earlier=earlier, messages=messages)
    session.notes = session.notes + plain_notes(messages, comparison_titles(model))
    return session


def _score(features: pa.Table, model: LinkageModel, *, engine: str, seed: int, max_comparisons: float,
           temp_dir: str | None, threads: int | None, memory_limit: str | None, trained: dict | None,
           earlier: EarlierPairs | None, messages: list[str]) -> ScoringSession:
    if engine not in ENGINES:
        raise InputError(f"must be one of {', '.join(ENGINES)}, not {engine!r}", field="engine")
    from splink import Linker

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    spark = connection = None
    if engine == "duckdb":
        db_api, connection = _duckdb_api(temp_dir, threads, memory_limit)
        table = db_api.register(features, dataset_display_name="records")
    else:
        db_api, spark = _spark_api(temp_dir)
        table = db_api.register(spark.createDataFrame(features), dataset_display_name="records")
    try:
        blocked = None
        if earlier is not None and engine == "duckdb":
            blocked = _blocked_from_earlier(connection, table.physical_name, features, model, earlier)
        if blocked is not None:
            blocked, kept, made = blocked
            planned = kept + made
            blocking = [{"rule": "pairs kept from the previous run, between records still current", "pairs": kept},
                        {"rule": "pairs the rules make with records new since the previous run", "pairs": made}]
            seconds["block_new_records"] = time.perf_counter() - started
            if planned > max_comparisons:
                raise DadkhahError(f"the blocking rules would score {planned:,} pairs, more than the limit of "
                                   f"{max_comparisons:,.0f} for this machine; tighten the rule that adds the most")
        else:
            planned, blocking = _plan(features, model, engine, connection, table, max_comparisons)
            seconds["count_pairs"] = time.perf_counter() - started
            kept = made = None
            if engine == "duckdb":  # (Spark blocks as Splink does)
                step = time.perf_counter()
                blocked, added = _blocked_afresh(connection, table.physical_name, features, model)
                planned = sum(added)
                for entry, pairs in zip(blocking, added, strict=True):
                    entry |= {"new_pairs": pairs, "estimated": False}
                seconds["block"] = time.perf_counter() - step
        step = time.perf_counter()
        if trained is not None:
            model_json, notes = json.loads(json.dumps(trained)), []
        else:
            model_json, notes = _train(table, features, model, seed, connection, spark, messages)
        seconds["train"] = time.perf_counter() - step

        step = time.perf_counter()
        lean = json.loads(json.dumps(model_json))
        lean["retain_intermediate_calculation_columns"] = False  # millions of pairs: weights only
        # The settings' columns were checked against the records' when the model was trained (the
        # model's definition digest holds the features' version): checking again costs 0.1 s a run.
        linker = Linker(table, lean, log_level=logging.WARNING, validate_settings=False)
        if blocked is not None:
            registered = linker.table_management.register_blocked_pairs_for_predict(db_api.register(blocked))
            # Scored as Splink scores the pairs of its own blocking. Splink takes a registered table
            # for a few pairs among many records, and first narrows the records to those in the pairs
            # ("source pruning"): here the pairs touch nearly every record, and that step cost 0.35 s
            # of 0.9 on 59,274 records. The scores are the same (tests/link/test_own_blocking.py).
            registered.metadata["registered_for_predict"] = False
        predictions = linker.inference.predict()
        if planned is None:
            planned = int(predictions.as_duckdbpyrelation().aggregate("count(*)").fetchall()[0][0])
        # Re-estimate the prior from every pair not already hopeless (see estimate_prior).
        prior = model_json["probability_two_random_records_match"]
        session = ScoringSession(engine=engine, model_json=model_json, predictions=predictions, shift=0.0,
                                 planned=planned, blocking=blocking, seconds=seconds, notes=notes, db_api=db_api,
                                 connection=connection, spark=spark, comparisons=[c.name for c in model.comparisons],
                                 linker=linker)
        session.pairs_kept, session.pairs_made = kept, made
        weights = session._frame(predictions, ["match_weight"], f"match_probability >= {PRIOR_FLOOR}")["match_weight"]
        total = features.num_rows * (features.num_rows - 1) // 2
        estimated = estimate_prior(weights.to_numpy(), total, prior)
        if estimated <= LEAST_PRIOR and planned:
            # Nothing the model scored looks like one person: with a model that learned from too few
            # records, even identical records of different lists are left apart. Say so.
            notes.append(f"the model found no pair of the {planned:,} it compared likely to be one person, so none was "
                         f"linked: {features.num_rows:,} records may be too few for it to learn from. Decide the "
                         "pairs you know to be one person in review (review decide): every later run obeys")
        session._shift = _weight_for(estimated) - _weight_for(prior)
        model_json["probability_two_random_records_match"] = estimated
        seconds["predict"] = time.perf_counter() - step
        return session
    except BaseException:
        if connection is not None:
            connection.close()
        raise


def _plan(features: pa.Table, model: LinkageModel, engine: str, connection, table, max_comparisons: float):
    """(pairs planned or None when only the scoring will count them, what each rule adds); refuses
    more than ``max_comparisons`` pairs."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    # The blocks' sizes bound the pairs at once; only a bound over the limit (or a rule the bound
    # cannot read) pays for Splink's count, which dedupes pairs across rules.
    # On Spark the features are still here: DuckDB reads the blocks' sizes in seconds where
    # Spark's count took minutes (143 s on 57,074 records, two cores).
    bounds = _bounds(features, model, connection, table.physical_name if engine == "duckdb" else None)
    if None in bounds or sum(bounds) > max_comparisons:
        counts = count_comparisons_from_blocking_rules(
            table, blocking_rules=[_rule(r) for r in model.blocking_rules], link_type="dedupe_only",
            unique_id_column_name="unique_id",
            record_sample_proportion=1.0 if features.num_rows <= 200_000 else 0.1,
        )
        planned = int(counts[-1]["cumulative_comparison_count"]) if counts else 0
        blocking = [{"rule": c["blocking_rule"], "new_pairs": int(c["marginal_comparison_count"]),
                     "estimated": bool(c["is_estimate"])} for c in counts]
    else:
        planned = None  # counted exactly once scored
        blocking = [{"rule": r.sql, "pairs_at_most": bound} for r, bound in zip(model.blocking_rules, bounds, strict=True)]
    if planned is not None and planned > max_comparisons:
        detail = "; ".join(f"{b['rule']}: {b['new_pairs']:,}" for b in blocking)
        raise DadkhahError(
            f"the blocking rules would score {planned:,} pairs, more than the limit of {max_comparisons:,.0f} "
            f"for this machine ({detail}); tighten the rule that adds the most"
        )
    return planned, blocking


# How many pairs a comparison's u_prior values (dadkhah.link.model.Level) count for beside the random
# pairs. They decide a comparison that applies to few pairs (the whole name is compared only when a
# record lacks a split name: 704 of 1,000,000 random pairs among a million records) and hardly move
# one that applies to many.
U_PRIOR_PAIRS = 1_000


def random_pairs(ids, wanted: int, seed: int) -> pa.Table:
    """``wanted`` pairs of records (id_l, id_r) drawn independently and uniformly, or every pair when
    there are no more than that."""
    import numpy as np

    n = len(ids)
    if n * (n - 1) // 2 <= wanted:
        left, right = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        left = rng.integers(0, n, wanted)
        right = rng.integers(0, n - 1, wanted)
        right += right >= left  # any record but the left one
    return pa.table({"id_l": pa.array(ids[left]), "id_r": pa.array(ids[right])})


def level_counts(linker, table_name: str, pairs: pa.Table, connection, spark) -> list[dict[int, int]]:
    """For each comparison of the linker's model, how many of ``pairs`` fall in each of its levels
    (by comparison vector value; -1 is the level "missing"), compared exactly as scoring compares."""
    import numpy as np

    settings = linker._settings_obj
    columns = ", ".join(dict.fromkeys(name for comparison in settings.comparisons
                                      for column in comparison._input_columns_used_by_case_statement
                                      for name in column.l_r_names_as_l_r))
    cases = ", ".join(comparison._case_statement for comparison in settings.comparisons)
    # (The model's own comparisons and columns, as Splink writes them for scoring; no value is in the text.)
    sql = (f"SELECT {cases} FROM (SELECT {columns} FROM dadkhah_sampled_pairs AS p "  # noqa: S608
           f"JOIN {table_name} AS l ON l.unique_id = p.id_l JOIN {table_name} AS r ON r.unique_id = p.id_r)")
    if spark is None:
        connection.register("dadkhah_sampled_pairs", pairs)
        try:
            levels = connection.sql(sql).to_arrow_table()
        finally:
            connection.unregister("dadkhah_sampled_pairs")
    else:
        spark.createDataFrame(pairs).createOrReplaceTempView("dadkhah_sampled_pairs")
        levels = spark.sql(sql).toArrow()
    counts = []
    for comparison in settings.comparisons:
        values, seen = np.unique(levels[comparison._gamma_column_name].to_numpy(), return_counts=True)
        counts.append(dict(zip(values.tolist(), seen.tolist(), strict=True)))
    return counts


def u_from_counts(model_json: dict, model: LinkageModel, counts: list[dict[int, int]], floor: float) -> list[str]:
    """Set each level's u-probability in ``model_json``: its share of the random pairs the comparison
    applies to, with the comparison's u_prior values counted as U_PRIOR_PAIRS more pairs when it has
    them; ``floor`` for a level no pair showed (the smoothing's floor). Returns one line per such
    level, worded as Splink words it, for :func:`plain_notes`."""
    unseen = []
    for comparison_json, comparison, seen in zip(model_json["comparisons"], model.comparisons, counts, strict=True):
        levels = [(level_json, level) for level_json, level in zip(comparison_json["comparison_levels"], comparison.levels, strict=True)
                  if not level_json.get("is_null_level")]
        priors = [level.u_prior for _, level in levels]
        prior_pairs = U_PRIOR_PAIRS if None not in priors else 0
        total = sum(count for value, count in seen.items() if value != -1) + prior_pairs
        for position, (level_json, level) in enumerate(levels):
            # Splink numbers the levels other than "missing" from the last (0) up, in order.
            count = seen.get(len(levels) - 1 - position, 0) + (prior_pairs * level.u_prior / sum(priors) if prior_pairs else 0)
            level_json["u_probability"] = count / total if count else floor
            if not count:
                unseen.append(f"Level {level.label} on comparison {comparison.name} not observed in dataset, unable to train u value")
    return unseen


def _train(table, features: pa.Table, model: LinkageModel, seed: int, connection, spark,
           messages: list[str]) -> tuple[dict, list[str]]:
    """Train the model on the registered records: the prior, then u from random pairs, then m by EM."""
    from splink import Linker
    from splink.internals.exceptions import EMTrainingException

    records = features.num_rows
    linker = Linker(table, settings_for(model), log_level=logging.WARNING)
    training = model.training
    try:
        linker.training.estimate_probability_two_random_records_match(
            [_rule(r) for r in training.deterministic_rules], recall=training.recall
        )
    except ValueError as exc:
        if "recall" not in str(exc):
            raise
        raise _cannot_train(records, "too many of them look alike by name and father's name or date "
                                     "of death for the model to tell a match from a mere likeness") from None
    prior = linker.misc.save_model_to_json()["probability_two_random_records_match"]
    if not 0 < prior < 1:
        raise _cannot_train(records, "no two of them share a given name, a family name and a "
                                     "father's name or date of death")
    # u: how often each level occurs among pairs of different persons, which nearly every random pair
    # is. Splink's own estimate draws records, not pairs (about 1,400 of them for a million pairs)
    # and stops once each level has been seen 100 times: at a million records its u moved between
    # seeds enough to move pairwise F1 from 0.944 to 0.953. Pairs drawn independently vary far less.
    pairs = random_pairs(features["unique_id"].to_numpy(zero_copy_only=False), int(training.u_max_pairs), seed)
    model_json = linker.misc.save_model_to_json()
    messages.extend(u_from_counts(model_json, model, level_counts(linker, table.physical_name, pairs, connection, spark),
                                  floor=1.0 / training.u_max_pairs))
    linker = Linker(table, model_json, log_level=logging.WARNING, validate_settings=False)  # checked just above
    notes = []
    trained = 0
    for rule in training.em_blocking_rules:
        before = linker.misc.save_model_to_json()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                # With the names' frequencies: without them, two records agreeing on a common given
                # and father's name (Mohammad, son of Ali) look like one person, and EM learnt that
                # a different family name is common among matches (m 0.18; 0.006 in the truth).
                _rule(rule), estimate_without_term_frequencies=False, max_pairs=training.em_max_pairs
            )
            trained += 1
        except EMTrainingException:
            # No pair of records meets this training rule (a small or narrow case): nothing to learn here.
            linker = Linker(table, before, log_level=logging.WARNING, validate_settings=False)
            notes.append(f"training blocked on [{rule}] was skipped: no pair of records meets it")
        except ValueError as exc:
            # Splink refuses an m-probability of exactly 0, which EM can reach on small or
            # one-sided data, and leaves the linker mid-session. Restore the model as it was
            # before this pass; the other passes' estimates stand, and smoothing removes zeros.
            if "math domain error" in str(exc):
                raise _cannot_train(records, "too few pairs of them agree for the model to learn from") from None
            if "below the minimum allowed" not in str(exc):
                raise
            linker = Linker(table, before, log_level=logging.WARNING, validate_settings=False)
            notes.append(f"training blocked on [{rule}] was skipped: expectation maximisation drove a level's m-probability to zero")
    if not trained:
        raise _cannot_train(records, "too few pairs of them agree for the model to learn from")
    return smooth_model(linker.misc.save_model_to_json(), training.m_smoothing, 1.0 / training.u_max_pairs), notes

