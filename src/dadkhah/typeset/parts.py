"""A long document set in parts and joined: memory bounded by a part, not by the document.

Typst holds the whole of a document while it sets it, about 60 to 75 KB a row of a table: a printed
list of 100,000 victims needed 7.3 GB, a letter with 100,000 signatories would need about 6 GB. So
a document whose tables hold more than :data:`WHOLE_ROWS` rows is cut into parts of
:data:`PART_ROWS` rows (:func:`cut`), each
part set by a process of its own, as many at once as there are cores, each process ended when its
part is done so that its memory is given back; then the parts are joined with pypdf
(:func:`compile_in_parts`).

Each part is set twice: once to count its pages, then told the number of its first page and the
pages of the whole (``first-page`` and ``pages-in-all`` in its input), so that every footer reads
"Page 1,234 of 2,000" as one document's would; the footer lies in the margin, so the numbers move
nothing, and a part whose pages differ between the two is refused as a bug. Only the first part
opens the document (``opening``: the title, say). A part starts on a new page.

The joined PDF holds the first part's document information, language and reading direction, and a
bookmark for every heading, nested by level across the parts (each template says which headings it
draws; see the callers). It is not tagged for screen readers: Typst tags each part, and pypdf
cannot join structure trees, so the parts are set untagged. The same input gives the same bytes.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from dadkhah.errors import DadkhahError
from dadkhah.processes import broken_pool_message, worker_context
from dadkhah.typeset.compile import compile_pdf, page_count

# Table rows a document may hold and still be set whole, as one tagged PDF (about 1 GB while it is
# set): a list of the size of most cases, printed for screen readers too.
WHOLE_ROWS = 10_000
# Table rows in a part of a longer one. A part needs about 250 MB while it is set.
PART_ROWS = 3_000


def plan(items: list[dict], *, rows_of: Callable[[dict], list | None], whole_rows: int, part_rows: int,
         **how) -> list[list[dict]]:
    """``items`` as one part when their rows number ``whole_rows`` or fewer, else :func:`cut` into
    parts of ``part_rows`` (``how``: its ``carried`` and ``continued``)."""
    if sum(len(rows_of(item) or ()) for item in items) <= whole_rows:
        return [items]
    return cut(items, part_rows, rows_of=rows_of, **how)


def cut(items: list[dict], rows_per_part: int, *, rows_of: Callable[[dict], list | None],
        carried: Callable[[dict], bool] = lambda item: False,
        continued: Callable[[dict], dict] = lambda item: item) -> list[list[dict]]:
    """``items`` cut into parts of at most ``rows_per_part`` rows, in order, nothing lost.

    ``rows_of(item)`` is an item's rows (a table's), or None for an item that is not cut and holds
    no rows. A part ends between two items when it is at least half full, else inside the item that
    fills it: the rest of that item goes on in the next part as ``continued(item)`` with the rows
    left. Items for which ``carried`` is true (a heading) at the end of a part go with what follows
    them into the next part."""
    parts, current, rows = [], [], 0
    for item in items:
        remaining = rows_of(item)
        if not remaining:
            current.append(item)
            continue
        piece = item
        while remaining:
            room = rows_per_part - rows
            if rows and (room <= 0 or (len(remaining) > room and rows >= rows_per_part // 2)):
                end = len(current)
                while end > 1 and carried(current[end - 1]):
                    end -= 1
                parts.append(current[:end])
                current, rows = current[end:], 0
                continue
            taken = min(len(remaining), room)
            current.append(piece | {"rows": remaining[:taken]})
            rows, remaining = rows + taken, remaining[taken:]
            piece = continued(item)
    return [*parts, current]


def compile_in_parts(template: Path, name: str, documents: list[dict], *, moment: datetime,
                     levels: list[list[int]], progress: Callable[[int, int], None] | None, what: str,
                     alone: str | None = None) -> bytes:
    """``documents`` (the parts' inputs to ``template``, passed as ``sys.inputs[name]``, the first
    with ``opening``) set in worker processes, numbered across the parts, and joined into one PDF.

    ``levels`` are the heading levels each part draws, in order (its bookmarks, nested across the
    parts by level). ``progress`` is told (parts set, parts to set), each part counting twice.
    ``what`` names the document and ``alone`` (if there is a way) says how to print less at once,
    when the worker processes die (out of memory, say)."""
    done = [0]

    def step() -> None:
        done[0] += 1
        if progress:
            progress(done[0], 2 * len(documents))

    def set_all(inputs: list[dict], count: bool) -> list:
        return _set_parts([(str(template), name, part, moment, count) for part in inputs], step, what, alone)

    counts = set_all(documents, True)
    starts = [1 + sum(counts[:number]) for number in range(len(counts))]
    pdfs = set_all([part | {"first-page": start, "pages-in-all": sum(counts)}
                    for part, start in zip(documents, starts, strict=True)], False)
    if [page_count(pdf) for pdf in pdfs] != counts:
        raise RuntimeError(f"a part of {what} came out with other pages when numbered")
    joined = _joined(pdfs, levels, documents[0]["lang"])
    if page_count(joined) != sum(counts):
        raise RuntimeError(f"the parts of {what} joined into other pages than theirs")
    return joined


def _set_parts(jobs: list[tuple], step: Callable[[], None], what: str, alone: str | None) -> list:
    """Each job set in a process of its own (a fresh one per part, so that the memory a part needed
    is given back), as many at once as there are cores; the results in the jobs' order."""
    workers = min(os.cpu_count() or 1, len(jobs))
    context = worker_context(["dadkhah.typeset.compile"])
    try:
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, max_tasks_per_child=1) as pool:
            futures = [pool.submit(_set_part, job) for job in jobs]
            try:
                for _ in concurrent.futures.as_completed(futures):
                    step()
            except BaseException:  # stopped (a job cancelled from its progress): the parts not begun are not set
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            return [future.result() for future in futures]
    except concurrent.futures.process.BrokenProcessPool:
        raise DadkhahError(broken_pool_message(f"the {workers} processes setting the parts of {what}",
                                               alone)) from None


def _set_part(job: tuple) -> int | bytes:
    """In a worker process: one part set, untagged (the join would drop the tags); its page count
    when ``count`` is true, else its PDF."""
    template, name, document, moment, count = job
    pdf = compile_pdf(Path(template), {name: document}, moment=moment, tagged=False)
    return page_count(pdf) if count else pdf


def _joined(pdfs: list[bytes], levels: list[list[int]], language: str) -> bytes:
    """The parts' PDFs as one: their pages in order, the first part's document information, language
    and reading direction, and one bookmark per heading, nested by level across the parts."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter()
    readers = [PdfReader(io.BytesIO(pdf)) for pdf in pdfs]
    open_items: list[tuple[int, object]] = []  # the bookmarks a deeper heading may nest under
    for reader, heading_levels in zip(readers, levels, strict=True):
        first = len(writer.pages)
        writer.append(reader, import_outline=False)
        marks = list(_bookmarks(reader, reader.outline, 1))
        if len(marks) != len(heading_levels):  # not expected: keep the part's own nesting
            heading_levels = [depth for _, _, depth in marks]
        for (title, page, _), level in zip(marks, heading_levels, strict=True):
            while open_items and open_items[-1][0] >= level:
                open_items.pop()
            item = writer.add_outline_item(title=title, page_number=first + page,
                                           parent=open_items[-1][1] if open_items else None)
            open_items.append((level, item))
    root = readers[0].trailer["/Root"]
    writer.add_metadata(readers[0].metadata)
    writer._root_object[NameObject("/Lang")] = TextStringObject(language)
    if "/ViewerPreferences" in root:
        writer._root_object[NameObject("/ViewerPreferences")] = root["/ViewerPreferences"].get_object().clone(writer)
    joined = io.BytesIO()
    writer.write(joined)
    return joined.getvalue()


def _bookmarks(reader, outline: list, depth: int) -> Iterator[tuple[str, int, int]]:
    """(title, page index, depth) of each bookmark of ``outline``, in the document's order."""
    for entry in outline:
        if isinstance(entry, list):
            yield from _bookmarks(reader, entry, depth + 1)
        else:
            yield entry.title, reader.get_destination_page_number(entry), depth
