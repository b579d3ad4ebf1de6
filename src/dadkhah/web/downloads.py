"""Handing a file over as a download: one the core wrote in a private folder (leaving nothing behind),
or one the workspace keeps."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fastapi.responses import StreamingResponse

from dadkhah.vault.files import attachment_disposition

_CHUNK = 1 << 20


def hand_over(folder: Path, file: Path, *, name: str, media_type: str, headers: dict | None = None) -> StreamingResponse:
    """Stream ``file`` as a download named ``name`` (made safe for ``Content-Disposition``); its folder
    is removed first (the open handle keeps the bytes readable until the stream ends, and nothing is
    left on disk if the client goes away)."""
    try:
        handle = open(file, "rb")  # closed when the stream ends
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _streamed(handle, name, media_type, headers)


def send_kept(file: Path, *, name: str, media_type: str, headers: dict | None = None) -> StreamingResponse:
    """Stream ``file``, which the workspace keeps (a report printed by a job), as a download named ``name``."""
    return _streamed(open(file, "rb"), name, media_type, headers)  # closed when the stream ends


def _streamed(handle, name: str, media_type: str, headers: dict | None) -> StreamingResponse:
    size = os.fstat(handle.fileno()).st_size

    def chunks():
        try:
            while block := handle.read(_CHUNK):
                yield block
        finally:
            handle.close()

    return StreamingResponse(chunks(), media_type=media_type, headers={
        "content-disposition": attachment_disposition(name), "content-length": str(size), **(headers or {})})
