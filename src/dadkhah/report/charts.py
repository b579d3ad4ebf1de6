"""The chart of an estimate as self-contained SVG, in English or in Persian (right to left).

One function draws it for the web application (inline in the page), the printed report (Typst
places the SVG as an image) and the command line (a file): per stratum when the estimate has
strata, else the total; for each row how many people the lists name (a bar), the estimate (a dot)
and its interval (a line), so a reader sees at once how much of the total is estimated rather than
named.

Why SVG written here rather than matplotlib: matplotlib cannot shape Arabic script, so a Persian
label came out as disjoined letters in the wrong order. Here every word is an SVG ``<text>`` and
the renderer shapes it: the browser with the system's fonts, Typst with the bundled Vazirmatn.

Right to left, portably: a Persian chart is mirrored (labels on the right, bars growing leftwards
from an axis whose zero is on the right) and each Persian ``<text>`` carries ``direction="rtl"``, so
the bidirectional algorithm orders digits, parentheses and Latin words as Persian readers expect.
Every text is anchored at its **middle**: browsers read ``text-anchor="start"`` under
``direction="rtl"`` as the right end, but the SVG library Typst uses (usvg) as the left end, so
only the middle means the same to both. Where a key must sit beside a text (the legend, the
numbers after the intervals) the text's width is estimated from its length.

Everything that came from data (stratum names, the method) is XML-escaped; the SVG holds no
script, link, stylesheet, font or image, and its colours are attributes, so a page's content
security policy has nothing to forbid.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.errors import InputError
from dadkhah.model import Place
from dadkhah.outfiles import checked_out
from dadkhah.report.maps import SVG_NAMESPACE, format_number

LANGUAGES = ("en", "fa")
FONT_FAMILY = ("system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans Arabic', Vazirmatn, Tahoma, "
               "sans-serif")
NAMED = "#4a5568"  # the bar: people the lists name
ESTIMATED = "#c53030"  # the dot and the interval line
INK = "#1a1a1a"
MUTED = "#555555"
GRID = "#d9d9d9"

LABELS = {
    "en": {
        "title": "{method}: {estimate} estimated in all ({low}–{high}), {observed} named",
        "named": "Named on the lists",
        "estimated": "Estimated total and its {level}% interval",
        "axis": "People",
        "total": "All",
        "row": "{name}: {observed} named; estimated {estimate} ({low}–{high})",
        "desc": "For each row, a bar shows how many people the lists name, a dot the estimated total and a "
                "line its {level}% interval.",
        "strata": {"unknown": "Unknown", "male": "Men", "female": "Women"},
    },
    "fa": {
        "title": "{method}: برآورد کل {estimate} (از {low} تا {high})، {observed} تن نام‌برده",
        "named": "نام‌برده در فهرست‌ها",
        "estimated": "برآورد کل و بازهٔ {level} درصدی آن",
        "axis": "شمار افراد",
        "total": "همه",
        "row": "{name}: {observed} تن نام‌برده؛ برآورد {estimate} (از {low} تا {high})",
        "desc": "در هر ردیف، ستون شمار کسانی است که فهرست‌ها نام برده‌اند، نقطه برآورد کل و خط بازهٔ {level} درصدی آن.",
        "strata": {"unknown": "نامعلوم", "male": "مردان", "female": "زنان"},
    },
}

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_DATE_LIKE = re.compile(r"^[0-9][0-9/\-]*$")
_PERSIAN_DIGITS = str.maketrans("0123456789-", "۰۱۲۳۴۵۶۷۸۹−")

# Geometry, in the units of a chart ``width`` wide (the default 720).
_ROW, _BAR = 24.0, 12.0
_LABEL_COLUMN = 170.0
_NUMBER_ROOM = 56.0  # after the longest interval, for the estimate written beside it
_MAX_LABEL = 28  # characters of a stratum's name (longer names are cut, with an ellipsis)


def _text(value) -> str:
    """Character data: escaped, and stripped of what XML 1.0 cannot hold at all."""
    return _NOT_XML.sub("", str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value) -> str:
    return _text(value).replace('"', "&quot;").replace("'", "&apos;").replace("\n", "&#10;").replace("\t", "&#9;")


def _n(value: float) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _width(text: str, size: float) -> float:
    """A generous guess at how wide ``text`` is drawn at ``size`` (no font metrics are at hand)."""
    return 0.56 * size * len(text)


def _cut(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1].rstrip() + "…"


def nice_ticks(highest: float, *, count: int = 5) -> list[float]:
    """Tick values from 0 to at least ``highest``, at a step of 1, 2, 2.5 or 5 times a power of ten
    giving about ``count`` steps."""
    if highest <= 0:
        return [0.0, 1.0]
    raw = highest / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    steps = math.ceil(highest / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


def _rows(document: Mapping, language: str, words: Mapping, names: Mapping[str, str]) -> list[dict]:
    """The rows to draw: the estimable strata, largest first, or the total alone."""
    rows = []
    for stratum in document.get("strata") or []:
        if stratum.get("estimate") is None:
            continue
        key = str(stratum.get("stratum") if stratum.get("stratum") is not None else stratum.get("name"))
        name = names.get(key) or words["strata"].get(key) or str(stratum.get("name") or key)
        if language == "fa" and _DATE_LIKE.match(name):
            name = name.translate(_PERSIAN_DIGITS)
        rows.append({"key": key, "name": name, "observed": stratum.get("observed") or 0,
                     "estimate": stratum["estimate"],
                     "interval": list(stratum.get("interval") or [stratum["estimate"]] * 2)})
    if not rows:
        rows = [{"key": "all", "name": words["total"], "observed": document.get("observed") or 0,
                 "estimate": document["estimate"],
                 "interval": list(document.get("interval") or [document["estimate"]] * 2)}]
    rows.sort(key=lambda r: (-r["estimate"], r["name"]))
    return rows


def estimate_chart(
    document: Mapping,
    *,
    language: str = "en",
    names: Mapping[str, str] | None = None,
    width: int = 720,
    standalone: bool = True,
    element_id: str | None = None,
    text_scale: float = 1.0,
) -> str:
    """The estimate ``document`` (as :func:`dadkhah.estimate.stored.get_estimate` returns it, or the
    result of a run) drawn as one SVG string ``width`` wide.

    ``language`` is ``"en"`` or ``"fa"``: a Persian chart is mirrored, its words are Persian and its
    numbers are written in Persian digits. ``names`` maps a stratum's key (a place id, say) to the
    name to show (see :func:`stratum_labels`); strata not in it show the name the estimate stored.
    ``element_id`` is the root's ``id`` and prefixes the ids inside, so two charts can share a page;
    ``standalone=False`` leaves out the ``xmlns`` attribute, for SVG inline in HTML. ``text_scale``
    enlarges the words (and the rows and label column with them) against the width: a chart set
    across a printed page reads better at about 1.3.
    """
    if language not in LABELS:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    words = LABELS[language]
    rtl = language == "fa"
    k = width / 720.0
    f = k * text_scale  # the unit of what grows with the words
    rows = _rows(document, language, words, dict(names or {}))

    def number(value) -> str:
        return format_number(round(value), language)

    level = number(round(100 * float(document.get("level") or 0.95)))
    interval = document.get("interval") or [document["estimate"]] * 2
    title = words["title"].format(method=document.get("method") or "", estimate=number(document["estimate"]),
                                  low=number(interval[0]), high=number(interval[1]),
                                  observed=number(document.get("observed") or 0))
    prefix = element_id or "estimate-chart"
    direction = ' direction="rtl"' if rtl else ""

    # the frame: title, legend, rows, axis
    title_y, legend_y, top = 22 * f, 46 * f, 68 * f
    bottom = top + len(rows) * _ROW * f
    height = bottom + 48 * f
    label_column = _LABEL_COLUMN * f
    margin = 14 * k
    if rtl:
        plot_low, plot_high = margin + _NUMBER_ROOM * f, width - label_column - 10 * k
        label_x = width - label_column / 2 - 4 * k
    else:
        plot_low, plot_high = label_column + 10 * k, width - margin - _NUMBER_ROOM * f
        label_x = label_column / 2 + 4 * k
    ticks = nice_ticks(max(max(r["interval"][1], r["observed"], r["estimate"]) for r in rows))
    span = ticks[-1] or 1.0

    def x(value: float) -> float:
        share = max(0.0, min(float(value), span)) / span
        return plot_high - share * (plot_high - plot_low) if rtl else plot_low + share * (plot_high - plot_low)

    def text(x_: float, y_: float, content: str, *, size: float, extra: str = "") -> str:
        return (f'<text x="{_n(x_)}" y="{_n(y_)}" text-anchor="middle" dominant-baseline="central" '
                f'font-size="{_n(size * f)}"{direction}{extra}>{_text(content)}</text>')

    out = ["<svg"]
    if standalone:
        out.append(f'xmlns="{SVG_NAMESPACE}"')
    if element_id:
        out.append(f'id="{_attr(element_id)}"')
    out.append(f'class="estimate-chart" viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" '
               f'height="{_n(height)}" role="img" aria-labelledby="{_attr(prefix)}-title {_attr(prefix)}-desc" '
               f'font-family="{FONT_FAMILY}" xml:lang="{language}" fill="{INK}">')
    parts = [" ".join(out)]
    parts.append(f'<title id="{_attr(prefix)}-title">{_text(title)}</title>')
    parts.append(f'<desc id="{_attr(prefix)}-desc">{_text(words["desc"].format(level=level))}</desc>')
    parts.append(f'<rect x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>')
    parts.append(text(width / 2, title_y, title, size=13, extra=' font-weight="700" class="chart-title"'))
    parts.append(_legend(words, level, width=width, y=legend_y, k=f, rtl=rtl, text=text))

    # grid and axis
    parts.append(f'<g class="axis" stroke="{GRID}" stroke-width="{_n(max(0.8 * k, 0.1))}">')
    for tick in ticks:
        parts.append(f'<line x1="{_n(x(tick))}" y1="{_n(top - 4 * f)}" x2="{_n(x(tick))}" y2="{_n(bottom)}"/>')
    parts.append(f'<line stroke="{MUTED}" x1="{_n(plot_low)}" y1="{_n(bottom)}" x2="{_n(plot_high)}" '
                 f'y2="{_n(bottom)}"/>')
    for tick in ticks:
        parts.append(f'<line stroke="{MUTED}" x1="{_n(x(tick))}" y1="{_n(bottom)}" x2="{_n(x(tick))}" '
                     f'y2="{_n(bottom + 4 * k)}"/>')
    parts.append("</g>")
    parts.append(f'<g class="ticks" fill="{MUTED}">')
    for tick in ticks:
        parts.append(text(x(tick), bottom + 14 * f, number(tick), size=9, extra=' class="tick"'))
    parts.append("</g>")
    parts.append(text((plot_low + plot_high) / 2, bottom + 34 * f, words["axis"], size=10,
                      extra=f' fill="{MUTED}" class="axis-title"'))

    # the rows
    for index, row in enumerate(rows):
        middle = top + (index + 0.5) * _ROW * f
        low, high = row["interval"]
        named_end = x(row["observed"])
        bar_x, bar_width = (named_end, x(0) - named_end) if rtl else (x(0), named_end - x(0))
        estimate = number(row["estimate"])
        tip = words["row"].format(name=row["name"], observed=number(row["observed"]), estimate=estimate,
                                  low=number(low), high=number(high))
        offset = 5 * k + _width(estimate, 9 * f) / 2
        number_x = x(high) - offset if rtl else x(high) + offset
        parts.append(f'<g class="row" data-stratum="{_attr(row["key"])}"><title>{_text(tip)}</title>')
        parts.append(text(label_x, middle, _cut(row["name"]), size=10, extra=' class="stratum"'))
        parts.append(f'<rect class="named" x="{_n(bar_x)}" y="{_n(middle - _BAR * f / 2)}" width="{_n(max(bar_width, 0))}" '
                     f'height="{_n(_BAR * f)}" fill="{NAMED}"/>')
        parts.append(f'<line class="interval" x1="{_n(x(low))}" y1="{_n(middle)}" x2="{_n(x(high))}" y2="{_n(middle)}" '
                     f'stroke="{ESTIMATED}" stroke-width="{_n(2 * f)}"/>')
        parts.append(f'<circle class="estimate" cx="{_n(x(row["estimate"]))}" cy="{_n(middle)}" r="{_n(3.6 * f)}" '
                     f'fill="{ESTIMATED}"/>')
        parts.append(text(number_x, middle, estimate, size=9, extra=f' fill="{ESTIMATED}" class="value"'))
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(words: Mapping, level: str, *, width: float, y: float, k: float, rtl: bool, text) -> str:
    """Two keys, each in its half of the width: the bar for the named, the dot on a line for the
    estimate; mirrored on a Persian chart (key to the right of its words)."""
    size = 10
    items = [("named", words["named"]), ("estimated", words["estimated"].format(level=level))]
    out = ['<g class="legend">']
    for index, (kind, label) in enumerate(items):
        half = (width / 2) * (1 - index) if rtl else (width / 2) * index
        centre = half + width / 4
        gap = _width(label, size * k) / 2 + 8 * k
        key_x = centre + gap if rtl else centre - gap - 18 * k  # the key's left edge
        if kind == "named":
            out.append(f'<rect class="legend-key" x="{_n(key_x)}" y="{_n(y - _BAR * k / 2)}" width="{_n(18 * k)}" '
                       f'height="{_n(_BAR * k)}" fill="{NAMED}"/>')
        else:
            out.append(f'<line class="legend-key" x1="{_n(key_x)}" y1="{_n(y)}" x2="{_n(key_x + 18 * k)}" y2="{_n(y)}" '
                       f'stroke="{ESTIMATED}" stroke-width="{_n(2 * k)}"/>'
                       f'<circle cx="{_n(key_x + 9 * k)}" cy="{_n(y)}" r="{_n(3.6 * k)}" fill="{ESTIMATED}"/>')
        out.append(text(centre, y, label, size=size, extra=' class="legend-label"'))
    out.append("</g>")
    return "\n".join(out)


def stratum_labels(session: Session, by: str | None, language: str) -> dict[str, str]:
    """The names to show for an estimate's strata in ``language``: places (strata by city or
    province) by their Persian or English name; other strata need none (see :data:`LABELS`)."""
    if by not in ("city", "province"):
        return {}
    rows = session.execute(sa.select(Place.id, Place.name_en, Place.name_fa))
    return {place_id: (name_fa if language == "fa" and name_fa else name_en) for place_id, name_en, name_fa in rows
            if name_en or name_fa}


def checked_chart_path(out: str | Path, *, workspace=None) -> Path:
    """Where a chart may be drawn (checked before the estimate is made): a ``.svg`` file in a folder that
    exists, new or a chart drawn before (replaced; any other SVG is kept), never one of the workspace's own
    files. (A chart asked as ``.png`` went to the ``.svg`` beside it, over whatever was there.)"""
    try:
        target = checked_out(out, overwrite=True, workspace=workspace)
    except InputError as exc:
        raise InputError(exc.message, file=exc.file, field="plot") from None
    if target.suffix.lower() != ".svg":
        raise InputError("is drawn as SVG: name the file ….svg", file=str(target), field="plot")
    if target.exists():
        with open(target, "rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
        if not head.startswith(b"<svg") or b'class="estimate-chart"' not in head:  # (what estimate_chart writes)
            raise InputError("exists and is not a chart this tool drew: name another file", file=str(target),
                             field="plot")
    return target


def plot_estimate(document: Mapping, out: str | Path, *, language: str = "en",
                  names: Mapping[str, str] | None = None, workspace=None) -> str:
    """Write the chart of ``document`` to ``out`` (:func:`checked_chart_path`) as an SVG file, whole or
    not at all; returns the path."""
    target = checked_chart_path(out, workspace=workspace)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        partial.write_text(estimate_chart(document, language=language, names=names) + "\n", encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return str(target)
