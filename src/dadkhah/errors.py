"""Errors the API raises. Each one says what went wrong and where, in words a user can act on.

The CLI turns any :class:`DadkhahError` into a clean message on stderr (and an ``error`` document
with ``--json``) and a non-zero exit; nothing else is caught there, so a bug still shows a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class DadkhahError(Exception):
    """Base class: a problem with the user's input or workspace, not a bug."""

    def to_dict(self) -> dict:
        return {"message": str(self)}


class NotFound(DadkhahError):
    """A named thing (workspace, source, place, record) does not exist."""


class WorkspaceError(DadkhahError):
    """The workspace is missing, unreadable, or from a newer version of Dadkhah."""


@dataclass
class InputError(DadkhahError):
    """Bad input that stops an operation, located by file, line and field.

    Raised only when nothing sensible can be kept (an unreadable file, a bad mapping); a bad value
    in one row never raises but becomes a warning or a quarantined row instead.
    """

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def to_dict(self) -> dict:
        return {"message": self.message, "file": self.file, "line": self.line, "field": self.field}


class LimitExceeded(InputError):
    """A file beyond one of the workspace's limits (rows, cells, size, nesting, time, memory): refused
    whole, before it could exhaust the machine. The web answers it with 413."""


class Unavailable(DadkhahError):
    """The server cannot do this now, whatever the request: nothing was changed. The web answers 503,
    never a form's "bad input"."""


class Busy(Unavailable):
    """Another writer holds the database (a large import or linkage being saved) for longer than this
    action would wait: nothing was changed; try again shortly. The web answers it with 503."""


class KeysOutdated(Unavailable):
    """The workspace's keys were rotated after this process loaded them: signing with the old key, or
    sealing under the old master key (which the key file no longer holds), would write what no one
    could verify or open. Nothing was changed; the process must be started again with the key file
    as it is now. The web answers it with 503."""
