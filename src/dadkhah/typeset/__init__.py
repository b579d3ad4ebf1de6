"""Typesetting: PDFs whose Persian is shaped, ordered right to left, and copies out as Persian.

Typst lays the pages out with the bundled Vazirmatn font only, the same on every machine and
without the network; what people wrote goes in as data, never as markup. ``compile`` is the one
module that imports Typst (and says why it is used as it is); ``letter`` prints an open letter with
its signatories, ``report`` a report made of blocks (the printed report, a case file's summary).
"""

from dadkhah.typeset.letter import DEFAULT_HEADINGS, letter_pdf
from dadkhah.typeset.report import render_report, report_pdf

__all__ = ["DEFAULT_HEADINGS", "letter_pdf", "render_report", "report_pdf"]
