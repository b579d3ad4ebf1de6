"""A long document set in parts and joined: memory bounded by a part, not by the document.

Typst holds the whole of a document while it sets it, about 60 to 75 KB a row of a table: a printed
list of 100,000 victims needed 7.3 GB, a letter with 100,000 signatories would need about 6 GB. So
a document whose tables hold more than :data:`WHOLE_ROWS` rows is cut into parts of
:data:`PART_ROWS` rows (:func:`cut`), each
part set by a process of its own, as many at once as there are cores, each process ended when its
part is done so that its memory is given back; then the parts are joined (:func:`compile_in_parts`).

Each part is set twice: once to count its pages (and its objects), then told the number of its
first page and the pages of the whole (``first-page`` and ``pages-in-all`` in its input), so that
every footer reads "Page 1,234 of 2,000" as one document's would; the footer lies in the margin,
so the numbers move nothing, and a part whose pages differ between the two is refused as a bug. Only the first part
opens the document (``opening``: the title, say). A part starts on a new page.

The joined PDF holds the first part's document information, language and reading direction, a
bookmark for every heading, nested by level across the parts (each template says which headings it
draws; see the callers), and one structure tree for screen readers: Typst tags each part, and the
parts' trees are joined into one document's, which reads in the order one document set whole reads
(how: the comment above :func:`_counted`). The same input gives the same bytes.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from dadkhah.errors import DadkhahError
from dadkhah.processes import broken_pool_message, worker_context
from dadkhah.typeset.compile import compile_pdf, page_count

# Table rows a document may hold and still be set whole, as one PDF (about 1 GB while it is set): a
# list of the size of most cases.
WHOLE_ROWS = 10_000
# Table rows in a part of a longer one. A part needs about 250 MB while it is set.
PART_ROWS = 3_000
# Small objects of a joined document written together in one compressed object stream.
OBJECTS_PER_STREAM = 200


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

    def set_all(inputs: list[dict], places: list[dict | None]) -> list:
        return _set_parts([(str(template), name, part, moment, place) for part, place in zip(inputs, places, strict=True)],
                          step, what, alone)

    counted = set_all(documents, [None] * len(documents))
    counts = [part["pages"] for part in counted]
    starts = [1 + sum(counts[:number]) for number in range(len(counts))]
    places = [place | {"language": documents[0]["lang"]} for place in _places(counted)]
    relocated = set_all([part | {"first-page": start, "pages-in-all": sum(counts)}
                         for part, start in zip(documents, starts, strict=True)], places)
    if [len(part["pages"]) for part in relocated] != counts:
        raise RuntimeError(f"a part of {what} came out with other pages when numbered")
    joined = _assembled(relocated, places[0]["whole"], levels)
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


def _set_part(job: tuple) -> dict:
    """In a worker process: one part set, tagged for screen readers. Without a ``place`` (the first
    time each part is set, to count its pages), what it holds (:func:`_counted`); with its place in
    the whole, its objects written as the whole numbers them (:func:`_relocated`)."""
    template, name, document, moment, place = job
    pdf = compile_pdf(Path(template), {name: document}, moment=moment)
    return _counted(pdf) if place is None else _relocated(pdf, place)


# In what QPDF writes for an object: a reference ("12 0 R"), renumbered; a structure element's
# identifier ("/ID (U1x0y0)") or the identifiers a table cell names its headings by ("/Headers [ ... ]"),
# prefixed; strings skipped, in which such text is only text (QPDF escapes every parenthesis inside
# a literal string, and writes other strings in hexadecimal).
_STRING = rb"\((?:[^()\\]|\\.)*\)"
_TOKENS = re.compile(rb"(?P<id>/ID )(?P<ident>" + _STRING + rb")|(?P<headers>/Headers \[)(?P<named>[^\]]*)\]|"
                     + _STRING + rb"|<[0-9A-Fa-f\s]*>|(?<![\w/.+-])(?P<number>\d+) \d+ R(?![\w])")
_NAMED = re.compile(_STRING)
# The objects made for the whole, numbered after every part's: the page tree, the structure tree's
# root, its parent tree and identifier tree, the bookmarks' root, and the document element.
_WHOLE = ("pages", "tree", "parents", "names", "outline", "document")

# Joining the parts. The parts' objects are written out as they are, renumbered after the parts
# before them: each part by the process that set it (:func:`_relocated`), so that the work is shared
# by the cores and no process holds more than a part; then the whole's own objects are added
# (:func:`_assembled`). Joining with a PDF library that copies every object of the whole into one
# document (pikepdf's copy_foreign) took 23 s and 2.7 GB for 100,000 victims. Each part's catalogue,
# page tree, structure tree root, parent tree, identifier tree and bookmarks are left out and written
# once for the whole: one document element holding every part's elements in order, each page's key
# into the parent tree counted after the parts before it, and the identifiers by which a table's
# cells name their column headings made distinct (each part numbers its tables from 1). Small
# objects go into compressed object streams: the structure tree's hundreds of thousands of small
# objects then take a fifth of the room.


def _counted(pdf: bytes) -> dict:
    """What the whole must know of a part before it is numbered: its pages, how many objects it
    holds, and how many keys into the parent tree it uses."""
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as part:
        tree = part.Root.get("/StructTreeRoot")
        return {"pages": len(part.pages), "objects": int(part.trailer.Size), "keys": _keys(tree) if tree else 0}


def _keys(tree) -> int:
    """How many keys into its parent tree a part uses (the pages' and their links')."""
    if "/ParentTreeNextKey" in tree:
        return int(tree.ParentTreeNextKey)
    return max((key for key, _ in _tree_items(tree.ParentTree, "/Nums", int)), default=-1) + 1


def _places(counted: list[dict]) -> list[dict]:
    """Where each part goes in the whole: the first number of its objects (room for its own, as
    counted, and for object streams and a little more should it have grown when numbered), its
    first key into the parent tree, and the numbers of the whole's own objects."""
    bases, base = [], 0
    for part in counted:
        bases.append(base)
        base += part["objects"] * 2 // OBJECTS_PER_STREAM + part["objects"] + 64
    whole = dict(zip(_WHOLE, range(base, base + len(_WHOLE)), strict=True))
    return [{"index": index, "base": bases[index], "room": bases[index + 1] if index + 1 < len(bases) else base,
             "key": sum(part["keys"] for part in counted[:index]), "keys": counted[index]["keys"], "whole": whole}
            for index in range(len(counted))]


class _Writer:
    """Objects written one after another: streams and a few others directly, the rest gathered into
    compressed object streams; where each went, for the cross-reference stream."""

    def __init__(self, next_number: int, limit: int | None = None) -> None:
        self.out = bytearray()
        self.offsets: dict[int, int] = {}  # where each object written directly begins
        self.packed: dict[int, tuple[int, int]] = {}  # each object in an object stream: (that stream, index)
        self.pending: list[tuple[int, bytes]] = []
        self.next_number, self.limit = next_number, limit

    def number(self) -> int:
        number, self.next_number = self.next_number, self.next_number + 1
        if self.limit is not None and number >= self.limit:
            raise RuntimeError("a part holds more objects than when its pages were counted")
        return number

    def put(self, number: int, body: bytes, data: bytes | None = None, *, direct: bool = False) -> None:
        if data is None and not direct:
            self.pending.append((number, body))
            if len(self.pending) >= OBJECTS_PER_STREAM:
                self.pack()
            return
        self.offsets[number] = len(self.out)
        self.out += b"%d 0 obj\n" % number + body
        if data is not None:
            self.out += b"\nstream\n" + data + b"\nendstream"
        self.out += b"\nendobj\n"

    def pack(self) -> None:
        """The objects gathered so far, as one object stream."""
        if not self.pending:
            return
        number, starts, bodies, at = self.number(), [], [], 0
        for index, (member, body) in enumerate(self.pending):
            self.packed[member] = (number, index)
            starts.append(b"%d %d" % (member, at))
            bodies.append(body)
            at += len(body) + 1
        head = b" ".join(starts) + b"\n"
        data = zlib.compress(head + b"\n".join(bodies) + b"\n", 6)
        self.pending = []
        self.put(number, b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>" % (
            len(starts), len(head), len(data)), data)


def _relocated(pdf: bytes, place: dict) -> dict:
    """In the process that set it: a part's objects as the whole numbers them (``place``, from
    :func:`_places`), and what the whole's own objects need of it (its pages, parent-tree entries,
    identifiers, top-level structure elements, bookmarks)."""
    import pikepdf

    index, base, whole = place["index"], place["base"], place["whole"]
    prefix = f"part{index + 1}-".encode() if index else b""
    with pikepdf.open(io.BytesIO(pdf)) as part:
        root = part.Root
        tree = root.StructTreeRoot
        [document] = _kids(tree.K)
        if (set(root.Pages.keys()) - {"/Type", "/Kids", "/Count"} or str(document.get("/S")) != "/Document"
                or any(page.obj.Parent.objgen != root.Pages.objgen for page in part.pages)):
            raise RuntimeError("a part is not laid out as Typst writes one (one page tree node, one document element)")
        if _keys(tree) > place["keys"] or base + int(part.trailer.Size) >= place["room"]:
            raise RuntimeError("a part holds more than when its pages were counted")
        redirect = {root.Pages.objgen[0]: whole["pages"], tree.objgen[0]: whole["tree"],
                    document.objgen[0]: whole["document"]}
        left_out = {root.Pages.objgen[0], tree.objgen[0], document.objgen[0], *_tree_objects(tree.ParentTree)}
        if "/IDTree" in tree:
            left_out |= set(_tree_objects(tree.IDTree))
        if "/Outlines" in root:
            redirect[root.Outlines.objgen[0]] = whole["outline"]
            left_out |= {root.Outlines.objgen[0], *(item.objgen[0] for item in _outline_items(root.Outlines))}
        if index:
            left_out |= {root.objgen[0], part.trailer.Info.objgen[0]}
            if "/Metadata" in root:
                left_out.add(root.Metadata.objgen[0])

        def renumber(text: bytes) -> bytes:
            def replaced(match: re.Match) -> bytes:
                if match.group("number") is not None:
                    old = int(match.group("number"))
                    return b"%d 0 R" % redirect.get(old, base + old)
                if prefix and match.group("id") is not None:
                    return b"/ID (" + prefix + match.group("ident")[1:]
                if prefix and match.group("headers") is not None:
                    return b"/Headers [" + _NAMED.sub(lambda name: b"(" + prefix + name.group(0)[1:],
                                                      match.group("named")) + b"]"
                return match.group(0)

            return _TOKENS.sub(replaced, text)

        found = {"pages": [base + page.objgen[0] for page in part.pages], "catalog": base + root.objgen[0],
                 "info": base + part.trailer.Info.objgen[0]}
        for page in part.pages:
            if "/StructParents" in page.obj:
                page.obj.StructParents = int(page.obj.StructParents) + place["key"]
            for annotation in page.obj.get("/Annots", ()):
                if "/StructParent" in annotation:
                    annotation.StructParent = int(annotation.StructParent) + place["key"]
        found["parents"] = [(key + place["key"], renumber(value.unparse()))
                            for key, value in _tree_items(tree.ParentTree, "/Nums", int)]
        found["names"] = [(prefix + name.encode(), renumber(value.unparse()))
                          for name, value in _tree_items(tree.IDTree, "/Names", str)] if "/IDTree" in tree else []
        found["children"] = [renumber(kid.unparse()) for kid in _kids(document.get("/K"))]
        found["marks"] = [(title, renumber(destination.unparse(resolved=True)), depth)
                          for title, destination, depth in _outline(root.Outlines)] if "/Outlines" in root else []
        if index == 0:
            del document.K  # the whole's document element: every part's elements are its kids
            found["document"] = renumber(document.unparse(resolved=True))
            root.Lang = pikepdf.String(place["language"])
            found["tree"] = b"".join(b" %s %s" % (key.encode(), renumber(value.unparse())) for key, value in tree.items()
                                     if key not in ("/Type", "/K", "/ParentTree", "/IDTree", "/ParentTreeNextKey"))
        writer = _Writer(base + int(part.trailer.Size), place["room"])
        for item in part.objects:
            number = item.objgen[0]
            if number in left_out or number == 0:
                continue
            if isinstance(item, pikepdf.Stream):
                data = item.read_raw_bytes()
                item.stream_dict.Length = len(data)
                writer.put(base + number, renumber(item.stream_dict.unparse(resolved=True)), data)
            else:  # the catalogue in the open: is_tagged reads it
                writer.put(base + number, renumber(item.unparse(resolved=True)), direct=number == root.objgen[0])
        writer.pack()
    return found | {"out": bytes(writer.out), "offsets": writer.offsets, "packed": writer.packed}


def _assembled(parts: list[dict], whole: dict, levels: list[list[int]]) -> bytes:
    """The parts' objects (:func:`_relocated`), one after another, and the whole's own: its page tree,
    its document element holding every part's elements, its structure tree's root, parent tree and
    identifier tree, its bookmarks nested by level across the parts, the first part's catalogue and
    information; then the cross-reference stream."""
    import hashlib

    import pikepdf

    writer = _Writer(max(whole.values()) + 1)
    writer.out += b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    for part in parts:
        at = len(writer.out)
        writer.out += part["out"]
        writer.offsets |= {number: at + offset for number, offset in part["offsets"].items()}
        writer.packed |= part["packed"]
    opening = parts[0]
    pages = [number for part in parts for number in part["pages"]]
    writer.put(whole["pages"], b"<< /Type /Pages /Count %d /Kids [ %s ] >>" % (
        len(pages), b" ".join(b"%d 0 R" % number for number in pages)), direct=True)  # page_count reads it
    writer.put(whole["document"], opening["document"][:-2] + b"/K [ " + b" ".join(
        child for part in parts for child in part["children"]) + b" ] >>")
    writer.put(whole["parents"], b"<< /Nums [ " + b" ".join(
        b"%d %s" % entry for entry in sorted((e for part in parts for e in part["parents"]), key=lambda e: e[0]))
        + b" ] >>")
    names = sorted((entry for part in parts for entry in part["names"]), key=lambda entry: entry[0])
    writer.put(whole["names"], b"<< /Names [ " + b" ".join(
        pikepdf.String(name).unparse() + b" " + value for name, value in names) + b" ] >>")
    keys = max((key for part in parts for key, _ in part["parents"]), default=-1) + 1
    writer.put(whole["tree"], b"<< /Type /StructTreeRoot /K [ %d 0 R ] /ParentTree %d 0 R /ParentTreeNextKey %d "
               b"/IDTree %d 0 R%s >>" % (whole["document"], whole["parents"], keys, whole["names"], opening["tree"]))
    marks = [(title, destination, level) for part, heading_levels in zip(parts, levels, strict=True)
             for (title, destination, depth), level in zip(
                 part["marks"], heading_levels if len(heading_levels) == len(part["marks"])
                 else [depth for _, _, depth in part["marks"]], strict=True)]
    _put_outline(writer, whole["outline"], marks)
    writer.pack()
    xref = writer.number()
    start = writer.offsets[xref] = len(writer.out)
    rows = bytearray()
    for number in range(xref + 1):
        if number in writer.offsets:
            rows += struct.pack(">BIH", 1, writer.offsets[number], 0)
        elif number in writer.packed:
            rows += struct.pack(">BIH", 2, *writer.packed[number])
        else:
            rows += struct.pack(">BIH", 0, 0, 65535)
    ident = hashlib.md5(bytes(writer.out), usedforsecurity=False).hexdigest().encode()
    data = zlib.compress(bytes(rows), 6)
    writer.out += (b"%d 0 obj\n<< /Type /XRef /Size %d /W [ 1 4 2 ] /Root %d 0 R /Info %d 0 R /ID [ <%s> <%s> ] "
                   b"/Filter /FlateDecode /Length %d >>\nstream\n" % (xref, xref + 1, opening["catalog"],
                                                                      opening["info"], ident, ident, len(data)))
    writer.out += data + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % start
    return bytes(writer.out)


def _put_outline(writer: _Writer, root: int, marks: list[tuple[str, bytes, int]]) -> None:
    """The bookmarks (title, destination, level), nested by level: an item goes under the nearest
    before it of a lower level."""
    import pikepdf

    items = [{"number": writer.number(), "title": title, "destination": destination, "kids": []}
             for title, destination, _ in marks]
    top, open_items = [], []
    for item, (_, _, level) in zip(items, marks, strict=True):
        while open_items and open_items[-1][0] >= level:
            open_items.pop()
        item["parent"] = open_items[-1][1]["number"] if open_items else root
        (open_items[-1][1]["kids"] if open_items else top).append(item)
        open_items.append((level, item))

    def links(kids: list[dict]) -> bytes:
        return b" /First %d 0 R /Last %d 0 R /Count %d" % (kids[0]["number"], kids[-1]["number"], len(kids)) \
            if kids else b""

    for siblings in [top, *(item["kids"] for item in items)]:
        for position, item in enumerate(siblings):
            near = (b" /Prev %d 0 R" % siblings[position - 1]["number"] if position else b"") + (
                b" /Next %d 0 R" % siblings[position + 1]["number"] if position + 1 < len(siblings) else b"")
            writer.put(item["number"], b"<< /Title %s /Parent %d 0 R /Dest %s%s%s >>" % (
                pikepdf.String(item["title"]).unparse(), item["parent"], item["destination"], near, links(item["kids"])))
    writer.put(root, b"<< /Type /Outlines%s >>" % links(top))


def _kids(value) -> list:
    """A structure element's kids (``/K``: one object or an array of them) as a list."""
    import pikepdf

    if value is None:
        return []
    return list(value) if isinstance(value, pikepdf.Array) else [value]


def _tree_items(node, kind: str, key_type) -> Iterator[tuple]:
    """The (key, value) pairs of a number tree (``kind`` "/Nums") or name tree ("/Names"), in order."""
    if kind in node:
        pairs = node[kind]
        for index in range(0, len(pairs), 2):
            yield key_type(pairs[index]), pairs[index + 1]
    for kid in node.get("/Kids", ()):
        yield from _tree_items(kid, kind, key_type)


def _tree_objects(node) -> Iterator[int]:
    """The object numbers of a number or name tree's nodes (not of what it points to)."""
    if node.is_indirect:
        yield node.objgen[0]
    for kid in node.get("/Kids", ()):
        yield from _tree_objects(kid)


def _outline_items(node) -> Iterator:
    """Every bookmark under ``node``, depth first, in the document's order."""
    item = node.get("/First")
    while item is not None:
        yield item
        yield from _outline_items(item)
        item = item.get("/Next")


def _outline(node, depth: int = 1) -> Iterator[tuple[str, object, int]]:
    """(title, destination, depth) of each bookmark under ``node`` (Typst gives each an explicit
    destination), in the document's order."""
    item = node.get("/First")
    while item is not None:
        if "/Dest" not in item or str(item.Dest).startswith("/"):
            raise RuntimeError("a part's bookmark has no destination of its own")
        yield str(item.Title), item.Dest, depth
        yield from _outline(item, depth + 1)
        item = item.get("/Next")
