"""The estimate's chart: one self-contained SVG per strata or total, in English or in Persian (Persian
words and digits, mirrored, every text set right to left and anchored at its middle), escaping what
came from data; and, placed in a PDF by Typst, its words drawn with the bundled font and copied out
as the same Persian words."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from pypdf import PdfReader

from dadkhah.errors import InputError
from dadkhah.report.charts import estimate_chart, nice_ticks, plot_estimate, stratum_labels
from dadkhah.report.maps import SVG_NAMESPACE
from dadkhah.typeset import report_pdf

NS = {"svg": SVG_NAMESPACE}
LATIN_DIGITS = re.compile("[0-9]")
INVISIBLE = re.compile(r"[\s\u200c\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069]")
HOSTILE = "<script>x</script> & \"q'"  # short enough to be shown whole


def document(**changes) -> dict:
    estimate = {
        "method": "lcmcr", "estimate": 5230.4, "interval": [4900.0, 5810.0], "observed": 4012, "level": 0.95,
        "by": "city",
        "strata": [
            {"stratum": "city:tehran", "name": "Tehran", "observed": 1200, "estimate": 1500.2, "interval": [1350, 1720]},
            {"stratum": "city:rasht", "name": "Rasht", "observed": 300, "estimate": 410, "interval": [350, 520]},
            {"stratum": "x\"><script>", "name": HOSTILE, "observed": 30, "estimate": 41, "interval": [35, 60]},
            {"stratum": "unknown", "name": "unknown", "observed": 12, "estimate": None, "interval": None,
             "warnings": ["fewer than two lists name anyone here: not estimable"]},
        ],
    }
    return estimate | changes


def texts(root: ET.Element, css: str) -> list[ET.Element]:
    return [t for t in root.iter(f"{{{SVG_NAMESPACE}}}text") if css in (t.get("class") or "").split()]


def test_an_english_chart_has_a_row_per_estimable_stratum_largest_first():
    root = ET.fromstring(estimate_chart(document()))
    rows = root.findall("svg:g[@class='row']", NS)
    assert [r.get("data-stratum") for r in rows] == ["city:tehran", "city:rasht", 'x"><script>']
    assert [t.text for t in texts(root, "stratum")] == ["Tehran", "Rasht", HOSTILE]
    assert [t.text for t in texts(root, "value")] == ["1,500", "410", "41"]
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    title = root.find("svg:title", NS).text
    assert title == "lcmcr: 5,230 estimated in all (4,900–5,810), 4,012 named"
    assert [t.text for t in texts(root, "legend-label")] == ["Named on the lists", "Estimated total and its 95% interval"]
    # mirrored or not, the bar for the named starts at the axis's zero
    zero = float(next(t for t in texts(root, "tick") if t.text == "0").get("x"))
    bars = [r.find("svg:rect[@class='named']", NS) for r in rows]
    assert all(abs(float(b.get("x")) - zero) < 0.1 for b in bars)


def test_without_strata_the_chart_shows_the_total():
    root = ET.fromstring(estimate_chart(document(strata=None)))
    [row] = root.findall("svg:g[@class='row']", NS)
    assert row.get("data-stratum") == "all" and texts(root, "stratum")[0].text == "All"
    assert texts(root, "value")[0].text == "5,230"


def test_a_persian_chart_speaks_persian_right_to_left_and_is_mirrored():
    names = {"city:tehran": "تهران", "city:rasht": "رشت"}
    root = ET.fromstring(estimate_chart(document(), language="fa", names=names))
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "fa"
    every = list(root.iter(f"{{{SVG_NAMESPACE}}}text"))
    assert all(t.get("direction") == "rtl" and t.get("text-anchor") == "middle" for t in every)
    assert not any(LATIN_DIGITS.search(t.text) for t in every if t.text), "Persian digits only"
    assert [t.text for t in texts(root, "stratum")][:2] == ["تهران", "رشت"]
    assert [t.text for t in texts(root, "value")] == ["۱٬۵۰۰", "۴۱۰", "۴۱"]
    assert "برآورد کل" in root.find("svg:title", NS).text and "۵٬۲۳۰" in root.find("svg:title", NS).text
    assert texts(root, "legend-label")[0].text == "نام‌برده در فهرست‌ها"
    assert texts(root, "axis-title")[0].text == "شمار افراد"
    # mirrored: the labels on the right, zero on the right, larger numbers to the left
    ticks = {t.text: float(t.get("x")) for t in texts(root, "tick")}
    assert ticks["۰"] > ticks["۵۰۰"] > ticks["۱٬۰۰۰"]
    label_x = float(texts(root, "stratum")[0].get("x"))
    assert label_x > ticks["۰"]
    english = ET.fromstring(estimate_chart(document()))
    assert float(texts(english, "stratum")[0].get("x")) < float(next(t for t in texts(english, "tick") if t.text == "0").get("x"))


def test_what_came_from_data_is_escaped():
    svg = estimate_chart(document(method='<b onload="x">'), language="fa")
    assert "<script" not in svg and "<b " not in svg and "&lt;b onload=" in svg
    root = ET.fromstring(svg)  # it parses: nothing broke out of its text or attribute
    assert root.find(".//svg:script", NS) is None
    assert HOSTILE in [t.text for t in texts(root, "stratum")]
    assert 'x"><script>' in [r.get("data-stratum") for r in root.findall("svg:g[@class='row']", NS)]
    assert not re.search(r"\b(href|src|style)=", svg), "nothing that loads or styles from elsewhere"
    long = estimate_chart(document(strata=[{"stratum": "s", "name": "A" * 200, "observed": 1, "estimate": 2,
                                            "interval": [1, 3]}]))
    [label] = texts(ET.fromstring(long), "stratum")
    assert label.text == "A" * 27 + "…" and "A" * 200 in long, "a long name is cut, and whole in the row's title"


def test_nice_ticks_and_the_svg_file(tmp_path):
    assert nice_ticks(5810) == [0, 2000, 4000, 6000]
    assert nice_ticks(41) == [0, 10, 20, 30, 40, 50]
    assert nice_ticks(0) == [0.0, 1.0]
    written = plot_estimate(document(), tmp_path / "toll.svg", language="fa")
    assert written == str(tmp_path / "toll.svg")
    assert ET.parse(written).getroot().tag == f"{{{SVG_NAMESPACE}}}svg"
    with pytest.raises(InputError, match="drawn as SVG") as refused:  # it went to toll.svg, over what was there
        plot_estimate(document(), tmp_path / "toll.png", language="fa")
    assert refused.value.field == "plot" and not (tmp_path / "toll.png").exists()


def test_strata_that_are_places_are_named_in_the_charts_language(store):
    with store.session() as session:
        persian, english = stratum_labels(session, "city", "fa"), stratum_labels(session, "city", "en")
        assert stratum_labels(session, "gender", "fa") == {}
    assert persian["city:tehran"] == "تهران" and english["city:tehran"] == "Tehran"


def test_typst_draws_the_charts_words_with_the_bundled_font_and_they_copy_out(tmp_path):
    names = {"city:tehran": "تهران", "city:rasht": "رشت"}
    out = tmp_path / "chart.pdf"
    report_pdf({"language": "fa", "title": "نمودار", "as_of": "2025-12-05T10:00:00+00:00",
                "blocks": [{"kind": "chart", "svg": estimate_chart(document(), language="fa", names=names)}]}, out)
    reader = PdfReader(out)
    fonts = {font.get_object()["/BaseFont"] for page in reader.pages
             for font in page["/Resources"]["/Font"].values()}
    fonts |= {font.get_object()["/BaseFont"] for page in reader.pages
              for xobject in (page["/Resources"].get("/XObject") or {}).values()
              for font in ((xobject.get_object().get("/Resources") or {}).get("/Font") or {}).values()}
    assert fonts and all("Vazirmatn" in str(name) for name in fonts)
    copied = "\n".join(page.extract_text() for page in reader.pages)
    if shutil.which("pdftotext"):
        copied += subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    squashed = INVISIBLE.sub("", copied)
    for words in ("تهران", "رشت", "نام‌برده در فهرست‌ها", "شمار افراد", "۱٬۵۰۰", "۴۱۰"):
        assert INVISIBLE.sub("", words) in squashed, words


def test_a_chart_that_loads_anything_is_refused_by_the_typesetter(tmp_path):
    from dadkhah.errors import InputError

    for svg in ('<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>',
                '<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(x)</style></svg>', "not svg"):
        with pytest.raises(InputError) as raised:
            report_pdf({"language": "en", "title": "T", "as_of": "2025-12-05T10:00:00+00:00",
                        "blocks": [{"kind": "chart", "svg": svg}]}, tmp_path / "x.pdf")
        assert raised.value.field == "blocks[0].svg"
