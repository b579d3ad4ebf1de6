"""Handing a file the core wrote in a private folder over as a download, leaving nothing behind."""

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
        size = os.fstat(handle.fileno()).st_size
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def chunks():
        try:
            while block := handle.read(_CHUNK):
                yield block
        finally:
            handle.close()

    return StreamingResponse(chunks(), media_type=media_type, headers={
        "content-disposition": attachment_disposition(name), "content-length": str(size), **(headers or {})})
