"""What a field tool's export holds, once read: its submissions, each with its answers, repeat
entries, the files it names, and what may be said of it in clear and what must be sealed.

The readers (:mod:`.odk`, :mod:`.kobo`, :mod:`.tella`) make these; :mod:`.take` takes them in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TOOL_NAMES = {"odk": "ODK Central", "kobo": "KoboToolbox", "tella": "Tella"}


@dataclass
class Located:
    """An attached file found on disk (``path``), or why not (``reason``); ``clear`` says what may be
    said of it in custody (its media type as the tool gave it, the question it answered)."""

    path: Path | None = None
    reason: str | None = None
    name: str | None = None  # the file's name as the tool gave it
    clear: dict = field(default_factory=dict)


@dataclass
class Submission:
    """One submission of a form (or, from Tella, one file with its verification information).

    ``line`` is where it is in the export (the CSV's line, the JSON's item from 2, Tella's metadata
    file in name order from 2), as a spreadsheet would number it. ``problem`` is a reason to refuse
    it found while reading (not decrypted, rejected in review, a hash that does not match), with the
    answer it concerns. ``clear`` goes into custody events as it is; ``sealed`` (who submitted it,
    from which device, where) only into the sealed metadata of its evidence.
    """

    line: int
    submission_id: str
    version_id: str | None = None
    submitted_at: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    repeats: dict[str, list[tuple[str, dict[str, str]]]] = field(default_factory=dict)
    problem: str | None = None
    problem_field: str = ""
    clear: dict = field(default_factory=dict)
    sealed: dict = field(default_factory=dict)
    attachments: list[dict] = field(default_factory=list)  # what the tool says of its files (Kobo)


@dataclass
class Export:
    """A field tool's export, read: ``fields`` are the answers it can hold (None when it cannot say),
    ``repeat_fields`` those of each repeat group; ``locate(submission, answer, name)`` finds a file a
    submission names."""

    tool: str
    path: Path
    file_sha256: str
    file_size: int
    form_id: str | None
    id_column: str
    submissions: list[Submission]
    locate: Callable[[Submission, str, str], Located]
    fields: set[str] | None = None
    repeat_fields: dict[str, set[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    report_fields: list[str] | None = None  # what the quarantine report shows of a submission
    closing: Callable[[], None] | None = None  # what releases the export (an open ZIP)

    def close(self) -> None:
        if self.closing is not None:
            self.closing()
            self.closing = None

    @property
    def tool_name(self) -> str:
        return TOOL_NAMES[self.tool]


def sha256_of(path: Path) -> tuple[str, int]:
    """A file's SHA-256 and size, streamed."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def first_seen(items) -> list:
    """``items`` without repeats, in the order first seen."""
    return list(dict.fromkeys(items))
