"""Typesetting: PDFs whose Persian is shaped, ordered right to left, and copies out as Persian.

Typst lays the pages out with the bundled Vazirmatn font only, the same on every machine and
without the network; what the public wrote goes in as data, never as markup (see ``letter``).
"""

from dadkhah.typeset.letter import DEFAULT_HEADINGS, letter_pdf

__all__ = ["DEFAULT_HEADINGS", "letter_pdf"]
