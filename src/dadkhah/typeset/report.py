"""A report as a PDF: a title and a list of blocks (headings, paragraphs, facts, tables, charts), in
English or in Persian (right to left), a block possibly in the other language.

This module lays out what it is given and decides nothing about what may be printed: the printed
report (:mod:`dadkhah.publish.report`) brings only what the publication policy allows, and a case
file's summary (:mod:`dadkhah.vault.casefile`) only what the case file holds. How Typst is used
safely is said in :mod:`dadkhah.typeset.compile`: the document goes into the fixed template
``report.typ`` as one JSON string, and every string is printed as text, never read as markup.

A long report is set in parts and joined (:mod:`dadkhah.typeset.parts`): Typst holds the whole of a
document while it sets it, about 75 KB a row of a table, so a list of 100,000 victims needed 7.3 GB.

A chart is an SVG image (:func:`dadkhah.report.charts.estimate_chart` draws one); Typst draws its
words with the bundled Vazirmatn, shaped, and they copy out of the PDF as text. An SVG may not refer
to anything outside itself (no ``href``, image, style sheet, script or foreign object): it is
refused rather than given to the SVG reader.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from dadkhah.errors import InputError
from dadkhah.typeset.compile import cell, compile_pdf, moment_of, printable, write_pdf
from dadkhah.typeset.parts import PART_ROWS, WHOLE_ROWS, compile_in_parts, cut, plan

HERE = Path(__file__).parent
TEMPLATE = HERE / "report.typ"

LANGUAGES = ("en", "fa")
KINDS = ("heading", "paragraph", "note", "facts", "table", "chart", "page-break")
DEFAULT_FOOTER = {"en": "Page {page} of {pages}", "fa": "صفحهٔ {page} از {pages}"}
MAX_COLUMNS = 8
_OUTSIDE = re.compile(r"href\s*=|<\s*(?:image|use|foreignObject|style|script)\b|url\s*\(", re.IGNORECASE)


def report_pdf(report: dict, out: str | os.PathLike) -> dict:
    """Write ``report`` as a PDF at ``out`` (whole or not at all); returns {"path", "pages",
    "sha256", "bytes", "tagged"}.

    ``report`` holds:

    - ``language``: ``"en"``, or ``"fa"`` for a document set right to left.
    - ``title``: a string; ``subtitle`` (optional): a line under it (the date, say).
    - ``as_of``: an ISO datetime, the PDF's creation date (one input, the same bytes).
    - ``footer`` (optional): the page's footer, with ``{page}`` and ``{pages}``; numbers are
      written in the document's digits.
    - ``blocks``: a list of dicts, each with a ``kind`` and, optionally, a ``lang`` (``"en"`` or
      ``"fa"``) when it is in the other language:

      - ``heading``: ``text``, ``level`` (1 to 3);
      - ``paragraph``: ``text`` (paragraphs separated by blank lines, a newline is a line break);
      - ``note``: ``text``, printed smaller;
      - ``facts``: ``rows``, pairs of strings (a label and its value);
      - ``table``: ``columns`` (headings), ``rows`` (lists of strings, one per column; each cell is
        set in the direction of its first letter, a newline in it is a line break), and optionally ``widths`` (a positive number
        per column, their proportions) and ``share`` (the part of the line's width the table takes,
        from 0.1 to 1; all of it by default);
      - ``chart``: ``svg`` (a self-contained SVG document) and optionally ``caption``;
      - ``page-break``.

    Raises :class:`InputError` naming the field when ``report`` is malformed.

    Example:
        >>> report_pdf({"language": "en", "title": "A report", "as_of": "2025-12-05T10:00:00+00:00",
        ...             "blocks": [{"kind": "paragraph", "text": "Hello."}]}, "report.pdf")
        {'path': 'report.pdf', 'pages': 1, 'sha256': '…', 'bytes': …}
    """
    return write_pdf(render_report(report), out)


def render_report(report: dict, *, progress: Callable[[int, int], None] | None = None,
                  part_rows: int | None = None, whole_rows: int | None = None) -> bytes:
    """The PDF of ``report`` (as :func:`report_pdf` takes it), as bytes: for a caller that records
    what it printed before the file is put in place.

    A report whose tables hold more than ``whole_rows`` rows in all (:data:`WHOLE_ROWS` unless
    given) is set in parts of ``part_rows`` (:data:`PART_ROWS`), in processes of their own, and
    joined (:mod:`dadkhah.typeset.parts`: pages numbered across the whole, a bookmark per heading,
    one structure tree for screen readers); ``progress`` is then told (parts set, parts to set). A
    part ends between two tables when it is at least half full, else inside a table, whose column headings the next part repeats; a table's headings go
    with it. A report within the limit is one document, tagged, as before."""
    language = _language(report.get("language"), "language")
    as_of = moment_of(report.get("as_of"))
    footer = printable(report.get("footer") or DEFAULT_FOOTER[language], "footer")
    document = {
        "lang": language,
        "digits": "۱" if language == "fa" else "1",
        "title": printable(report.get("title"), "title"),
        "subtitle": printable(report.get("subtitle"), "subtitle", required=False),
        "footer": footer,
        "blocks": _blocks(report.get("blocks"), language),
    }
    parts = plan(document["blocks"], rows_of=_table_rows, whole_rows=whole_rows or WHOLE_ROWS,
                 part_rows=part_rows or PART_ROWS, carried=_introduces)
    if len(parts) == 1:
        return compile_pdf(TEMPLATE, {"report": document}, moment=as_of)
    documents = [document | {"blocks": blocks, "opening": number == 0} for number, blocks in enumerate(parts)]
    levels = [([1] if part["opening"] else []) + [b["level"] for b in part["blocks"] if b["kind"] == "heading"]
              for part in documents]
    return compile_in_parts(TEMPLATE, "report", documents, moment=as_of, levels=levels, progress=progress,
                            what="the report", alone="print the list by city or by incident")


def _parts(blocks: list[dict], rows_per_part: int) -> list[list[dict]]:
    """``blocks`` cut into parts of at most ``rows_per_part`` table rows (:func:`parts.cut`): the
    headings and page breaks that introduce a table go with it into the next part."""
    return cut(blocks, rows_per_part, rows_of=_table_rows, carried=_introduces)


def _table_rows(block: dict) -> list | None:
    return block["rows"] if block["kind"] == "table" else None


def _introduces(block: dict) -> bool:
    return block["kind"] in ("heading", "page-break")


def _language(value: object, field: str) -> str:
    if value not in LANGUAGES:
        raise InputError(f"must be one of {', '.join(LANGUAGES)}, not {value!r}", field=field)
    return value


def _blocks(blocks: object, language: str) -> list[dict]:
    if not isinstance(blocks, list):
        raise InputError("must be a list", field="blocks")
    return [_block(block, f"blocks[{index}]", language) for index, block in enumerate(blocks)]


def _block(block: object, where: str, language: str) -> dict:
    if not isinstance(block, dict):
        raise InputError("must be a mapping", field=where)
    kind = block.get("kind")
    if kind not in KINDS:
        raise InputError(f"must be one of {', '.join(KINDS)}, not {kind!r}", field=f"{where}.kind")
    lang = _language(block.get("lang", language), f"{where}.lang")
    shaped: dict = {"kind": kind, "lang": lang}
    if kind == "heading":
        level = block.get("level", 2)
        if level not in (1, 2, 3):
            raise InputError(f"must be 1, 2 or 3, not {level!r}", field=f"{where}.level")
        shaped |= {"level": level, "text": _line(block.get("text"), f"{where}.text")}
    elif kind in ("paragraph", "note"):
        text = printable(block.get("text"), f"{where}.text")
        shaped["paragraphs"] = [[line.strip() for line in part.strip().split("\n")]
                                for part in re.split(r"\n\s*\n", text) if part.strip()]
    elif kind == "facts":
        rows = _list(block.get("rows"), f"{where}.rows")
        shaped["rows"] = [_row(row, f"{where}.rows[{i}]", lang, columns=2) for i, row in enumerate(rows)]
    elif kind == "table":
        columns = [_line(c, f"{where}.columns[{i}]") for i, c in enumerate(_list(block.get("columns"), f"{where}.columns"))]
        if not 1 <= len(columns) <= MAX_COLUMNS:
            raise InputError(f"must name 1 to {MAX_COLUMNS} columns", field=f"{where}.columns")
        widths = block.get("widths") or [1] * len(columns)
        if (not isinstance(widths, list) or len(widths) != len(columns)
                or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w > 0 for w in widths)):
            raise InputError("must give a positive number per column", field=f"{where}.widths")
        share = block.get("share", 1)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.1 <= share <= 1:
            raise InputError(f"must be a number from 0.1 to 1, not {share!r}", field=f"{where}.share")
        rows = _list(block.get("rows"), f"{where}.rows")
        shaped |= {"columns": columns, "widths": [float(w) for w in widths], "share": float(share),
                   "rows": [_row(row, f"{where}.rows[{i}]", lang, columns=len(columns)) for i, row in enumerate(rows)]}
    elif kind == "chart":
        svg = block.get("svg")
        if not isinstance(svg, str) or not svg.lstrip().startswith("<svg") or _OUTSIDE.search(svg):
            raise InputError("must be a self-contained SVG document (nothing it links to or loads)", field=f"{where}.svg")
        shaped |= {"svg": svg, "caption": printable(block.get("caption"), f"{where}.caption", required=False)}
    return shaped


def _list(value: object, field: str) -> list:
    if not isinstance(value, list):
        raise InputError("must be a list", field=field)
    return value


def _line(value: object, field: str) -> str:
    """One line of text: its whitespace, newlines included, collapsed."""
    return " ".join(printable(value, field).split())


def _row(row: object, field: str, language: str, *, columns: int) -> list[list[str]]:
    """A row's cells, each ``[text, direction]``: spaces collapsed, a newline kept as a line break
    (each line is then ordered on its own, so a list of names in two scripts stays readable)."""
    if not isinstance(row, list) or len(row) != columns:
        raise InputError(f"must be a list of {columns} strings", field=field)
    cells = []
    for i, value in enumerate(row):
        lines = (" ".join(line.split()) for line in printable(value, f"{field}[{i}]", required=False).split("\n"))
        cells.append(cell("\n".join(line for line in lines if line), language))
    return cells
