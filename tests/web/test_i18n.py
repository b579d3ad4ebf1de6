"""English and Persian: every string a page can show has a Persian translation; Persian pages are
right-to-left and show Jalali dates beside Gregorian ones."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from babel.messages.extract import extract_from_file

import dadkhah.web
from dadkhah.users import ROLES
from dadkhah.web.i18n import catalogue, format_date, set_language

WEB = Path(dadkhah.web.__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def messages() -> dict[str, str]:
    found = {}
    for path in sorted(WEB.rglob("*")):
        if path.suffix == ".html":
            method, options = "jinja2.ext:babel_extract", {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                                                           "lstrip_blocks": "true"}
        elif path.suffix == ".py":
            method, options = "python", {}
        else:
            continue
        for line, message, _comments, _context in extract_from_file(method, path, keywords=KEYWORDS, options=options):
            for text in message if isinstance(message, tuple) else (message,):
                found.setdefault(text, f"{path.relative_to(WEB)}:{line}")
    return found


def test_every_string_shown_has_a_persian_translation():
    persian = catalogue("fa")
    found = messages()
    assert len(found) > 30
    missing = {text: where for text, where in found.items() if text not in persian}
    assert not missing, f"add these to a catalogue in src/dadkhah/web/locale/fa/: {missing}"
    assert all(role in persian for role in ROLES)


def test_every_level_of_the_linkage_model_has_a_persian_translation():
    """A review pair's page names the level each comparison fell in by the model's own label."""
    from dadkhah.link.model import DEFAULT_MODEL
    from dadkhah.link.review import explain

    persian = catalogue("fa")
    labels = {level.label for comparison in DEFAULT_MODEL.comparisons for level in comparison.levels}
    labels.add(explain({"given_name": None}, {})[0]["level"])  # (a comparison that gave no evidence)
    missing = sorted(label for label in labels if label not in persian)
    assert not missing, f"add these to src/dadkhah/web/locale/fa/work.po: {missing}"


def test_persian_dates_show_jalali_beside_gregorian():
    try:
        set_language("fa")
        assert format_date(date(1988, 7, 27)) == "۱۳۶۷/۰۵/۰۵ (1988-07-27)"
        set_language("en")
        assert format_date(date(1988, 7, 27)) == "1988-07-27"
    finally:
        set_language("en")
