"""What a screen reader relies on in a printed PDF's structure tree, checked as a reader would follow
it: one document element; every page finds its marked content's elements by a key of its own (the
parent tree), and each of those elements is on that page; every identifier is one element's; every
heading cell a table cell names exists. Used on documents joined from parts and set whole alike."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pikepdf


def _kids(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, pikepdf.Array) else [value]


def _pairs(node, kind: str) -> list[tuple]:
    found = []
    if kind in node:
        values = node[kind]
        found += [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    for kid in node.get("/Kids", ()):
        found += _pairs(kid, kind)
    return found


def _marked_ids(page) -> set[int]:
    """The MCIDs a page's content marks (what its text and drawings are tagged with)."""
    return {int(operands[1]["/MCID"]) for operands, operator in pikepdf.parse_content_stream(page)
            if str(operator) == "BDC" and isinstance(operands[1], pikepdf.Dictionary) and "/MCID" in operands[1]}


def check_structure(pdf: bytes) -> dict:
    """Check the structure tree of ``pdf`` (an AssertionError says what is wrong); returns counts."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert document.check_pdf_syntax() == [] and document.get_warnings() == [], "QPDF finds nothing wrong"
        root = document.Root
        assert "/StructTreeRoot" in root and root.MarkInfo.Marked, "tagged, and marked as tagged"
        tree = root.StructTreeRoot
        [top] = _kids(tree.K)
        assert str(top.S) == "/Document", "one document element"
        parents = {int(key): value for key, value in _pairs(tree.ParentTree, "/Nums")}
        assert int(tree.ParentTreeNextKey) > max(parents), "the next key is past every key"
        keys = [int(page.obj.StructParents) for page in document.pages]
        assert len(set(keys)) == len(keys), "each page has a key of its own"
        for number, (page, key) in enumerate(zip(document.pages, keys, strict=True)):
            elements = parents[key]
            marked = _marked_ids(page)
            assert marked <= set(range(len(elements))), f"page {number + 1}: every mark has its element"
            for mcid in marked:
                element = elements[mcid]
                assert "/Pg" not in element or element.Pg.objgen == page.obj.objgen, \
                    f"page {number + 1}: the element of mark {mcid} is on another page"
        names = [str(name) for name, _ in _pairs(tree.IDTree, "/Names")] if "/IDTree" in tree else []
        assert len(set(names)) == len(names), "each identifier names one element"
        named, elements, stack = set(), 0, [top]
        while stack:
            element = stack.pop()
            elements += 1
            if "/ID" in element:
                assert str(element.ID) in names, f"{element.ID} is in the identifier tree"
            for attributes in _kids(element.get("/A")):
                if isinstance(attributes, pikepdf.Dictionary) and "/Headers" in attributes:
                    named |= {str(name) for name in attributes.Headers}
            stack += [kid for kid in _kids(element.get("/K")) if isinstance(kid, pikepdf.Dictionary) and "/S" in kid]
        assert named <= set(names), f"cells name headings that do not exist: {sorted(named - set(names))[:5]}"
        return {"pages": len(keys), "elements": elements, "identifiers": len(names)}


def reading_order(path, pattern: str) -> list[str]:
    """What ``pattern`` finds in the text of the structure tree, in the order a screen reader reads
    it (Poppler's ``pdfinfo -struct-text``); None without Poppler."""
    if shutil.which("pdfinfo") is None:
        return None
    done = subprocess.run(["pdfinfo", "-struct-text", str(path)], capture_output=True, check=True)
    return re.findall(pattern, done.stdout.decode("utf-8", errors="replace"))  # titles are UTF-16 as stored
