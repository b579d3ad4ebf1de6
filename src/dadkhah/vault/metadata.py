"""What an evidence file is and what it says about itself, read without altering it.

A documenter's file name is a claim, not a fact: a photo renamed ``report.pdf`` is still a photo.
The media type therefore comes from the file's first bytes (puremagic); the name may only choose
between signatures that fit the bytes equally well (a ZIP container is also a DOCX container).

Embedded metadata is evidence in its own right: where and when a camera says a photo was taken
(EXIF), and whether the file carries C2PA Content Credentials and whether they still match the
bytes. Reading it must never change the file, never reach the network, and never hold a
multi-gigabyte video in memory:

- Files are opened read-only, once; nothing here writes.
- C2PA runs with every fetch turned off. c2pa-python's defaults *do* fetch: a file that points to
  a remote manifest makes the Reader download it (``verify.remote_manifest_fetch`` is on by
  default), and OCSP (``verify.ocsp_fetch``) and CAWG identity checks (``did:web``) can reach the
  network too. Fetching would tell whoever runs that server that someone is examining this file.
  A remote manifest is reported by its URL, never downloaded.
- In a JPEG or WebP the EXIF block is found by stepping over segment headers and only that block
  (at most 64 KiB in a JPEG) is parsed; other images go through a wrapper that caps every read, so
  a tag claiming a 4 GB string cannot make exifread allocate 4 GB. The c2pa readers for BMFF video, PNG, TIFF, WebP, RIFF, audio and ZIP
  formats stream through the file; its JPEG, PDF and SVG readers load the whole file (measured:
  about 3x the file size for JPEG), so those are skipped above a size limit, and the skip is
  reported in ``errors``. While validating a manifest, c2pa hashes in 256 MiB chunks, two at a
  time, so a signed file of any size costs at most about 540 MB.

Failures caused by the file's content (a truncated JPEG, a broken EXIF block, a damaged manifest)
are reported as short strings in ``errors``, never raised: a damaged file is still evidence. Only a
path that cannot be opened raises (``OSError``).
"""

from __future__ import annotations

import codecs
import functools
import io
import json
import logging
import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import c2pa
import exifread
import puremagic

__all__ = ["HEAD_BYTES", "detect_media_type", "extract_metadata"]

# exifread logs a warning for every image without EXIF ("PNG file does not have exif data."), which
# Python prints on stderr when the application has not set up logging. What matters is in the
# returned "errors"; an application that configures logging still receives these records.
logging.getLogger("exifread").addHandler(logging.NullHandler())

#: Leading bytes :func:`detect_media_type` looks at. puremagic's deepest header signature (the
#: ISO 9660 volume descriptor at byte 32 769) ends at 36 870; 64 KiB covers it with room to spare.
HEAD_BYTES = 64 * 1024

_UNKNOWN = "application/octet-stream"

# A signature shorter than three bytes (puremagic confidence below 0.3: "BM", "P1", "{") is
# ordinary text often enough that it should not turn a readable UTF-8 file into a bitmap.
_STRONG_CONFIDENCE = 0.3

# Containers that many specialised formats share. When the bytes cannot tell them apart and the
# name does not settle it, say what the content proves (a ZIP, a PDF) rather than guess a
# specialisation (DOCX, FDF).
_CONTAINERS_ON_TIE = ("application/zip", "application/pdf")

# C0 controls other than tab, line feed, vertical tab, form feed and carriage return; DEL.
_PLAIN_WORD = re.compile(rb"[A-Za-z0-9 _.-]+")
_BINARY_CHARACTERS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")

_EXIF_TYPES = frozenset({
    "image/jpeg", "image/tiff", "image/png", "image/webp", "image/heic", "image/heif", "image/avif",
    "image/jxl", "image/dng", "image/x-adobe-dng", "image/x-canon-cr2", "image/x-nikon-nef",
    "image/x-sony-arw",
})

# Upper bound on any single read exifread makes. Real EXIF blocks are at most 64 KiB in a JPEG and
# a few MiB in a TIFF; anything longer is dropped from the output anyway (see _MAX_TAG_CHARS).
_EXIF_READ_LIMIT = 16 * 1024 * 1024
_MAX_TAG_CHARS = 500
# How many JPEG segments or WebP chunks to step over looking for EXIF; real files have a handful
# before it (an animated WebP may have one per frame).
_MAX_SEGMENTS = 100_000
_ERROR_CHARS = 300

# Names puremagic gives that c2pa knows under another spelling.
_C2PA_ALIASES = {"application/zip": "application/x-zip", "audio/x-wav": "audio/wav"}

# c2pa 0.91 (c2pa-python 0.38.1) reads these formats by loading the whole file into memory.
_C2PA_WHOLE_FILE_TYPES = frozenset({"image/jpeg", "application/pdf", "image/svg+xml"})
_C2PA_WHOLE_FILE_LIMIT = 256 * 1024 * 1024

# Unknown keys are ignored silently by c2pa, so tests/vault/test_metadata.py checks with a local
# server that these really keep the Reader off the network.
_C2PA_OFFLINE_SETTINGS = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    # An empty allow-list blocks every request c2pa's HTTP resolvers would make. c2pa documents
    # that CAWG identity validation (did:web) may not respect that list (c2pa-rs issue 1645), so
    # identity assertions are left undecoded: they stay in the manifest store as data, unverified.
    "core": {"allowed_network_hosts": [], "decode_identity_assertions": False},
}
_REMOTE_MANIFEST = re.compile(r"remote manifests? from url (\S+)")

_CONSUMED_BY_GPS = (
    "GPS GPSLatitude", "GPS GPSLatitudeRef", "GPS GPSLongitude", "GPS GPSLongitudeRef",
    "GPS GPSAltitude", "GPS GPSAltitudeRef",
)


def detect_media_type(head: bytes, *, name: str | None = None) -> str:
    """The MIME type the file's first bytes prove, for filing and for choosing a parser.

    Args:
        head: The first :data:`HEAD_BYTES` bytes of the file (fewer if the file is shorter).
        name: The file's name as submitted. Untrusted: it only chooses among signatures that
            match the bytes with equal confidence, and never overrides them.

    Returns:
        A MIME type; ``"text/plain"`` for UTF-8 text without a signature, and
        ``"application/octet-stream"`` when nothing is known (including an empty file).

    Example:
        >>> detect_media_type(b"\\xff\\xd8\\xff\\xe0\\x00\\x10JFIF\\x00", name="photo.pdf")
        'image/jpeg'
    """
    if not head:
        return _UNKNOWN
    candidates = _match_signatures(head)
    is_text = _looks_like_text(head[:HEAD_BYTES])
    if is_text:
        # A signature that is only a word ("record", "model") is too weak to call text anything
        # but text: a list whose first column is "record_id" is not a Modelica model.
        candidates = [c for c in candidates if not _PLAIN_WORD.fullmatch(c.byte_match)]
    if candidates and (max(c.confidence for c in candidates) >= _STRONG_CONFIDENCE or not is_text):
        return _choose_candidate(candidates, name=name)
    if is_text:
        return _delimited_text_type(head) or "text/plain"
    return _UNKNOWN


def _delimited_text_type(head: bytes) -> str | None:
    """``text/csv`` or ``text/tab-separated-values`` when the first lines share a delimiter count."""
    lines = head.decode("utf-8", errors="ignore").splitlines()[:6]
    lines = lines[:-1] if len(lines) > 2 else lines  # the last line may be cut short
    if len(lines) < 2:
        return None
    for delimiter, media_type in (("\t", "text/tab-separated-values"), (",", "text/csv")):
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() >= 1:
            return media_type
    return None


def extract_metadata(path: str | os.PathLike[str], *, media_type: str) -> dict[str, Any]:
    """EXIF and C2PA Content Credentials embedded in a file, as a JSON-serialisable dict.

    Args:
        path: The file; opened read-only, never written.
        media_type: What :func:`detect_media_type` found; it decides which parsers run, so EXIF is
            never looked for in a video.

    Returns:
        ``{"exif": {...}, "c2pa": {...}, "errors": [...]}``, each key only when there is something
        to say. ``exif`` holds ``camera_make``, ``camera_model``, ``taken_at`` (ISO 8601, with an
        offset only if the camera recorded one) and ``taken_at_raw``, ``gps`` (decimal degrees,
        ``altitude_m``), ``software``, ``orientation`` and the remaining ``tags`` as text.
        ``c2pa`` holds the active manifest's label, claim generator, title, signature, assertion
        labels, ``validation_state``, ``validation_status`` (failure codes; empty means the
        credentials match the file) and the whole ``manifest_store``; a file that only points to
        a remote manifest gets ``{"remote_manifest_url": ...}`` instead, as it is not fetched.
        ``errors`` lists what could not be read, e.g. ``"exif: IndexError: ..."``.

    Raises:
        OSError: The path cannot be opened. Damaged content never raises.
    """
    media_type = media_type.split(";")[0].strip().lower()
    result: dict[str, Any] = {}
    errors: list[str] = []
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if media_type in _EXIF_TYPES:
            exif = _read_exif(file, media_type=media_type, errors=errors)
            if exif:
                result["exif"] = exif
        credentials = _read_content_credentials(file, media_type=media_type, size=size, errors=errors)
        if credentials:
            result["c2pa"] = credentials
    if errors:
        result["errors"] = errors
    return result


def _match_signatures(head: bytes) -> list:
    """Header signatures that fit, best first; footer signatures are skipped (we hold no footer)."""
    try:
        matches = puremagic.magic_string(head)  # no file name: puremagic would let it raise confidence
    except puremagic.PureError:
        return []
    return [match for match in matches if match.offset >= 0 and match.mime_type]


def _choose_candidate(candidates: list, *, name: str | None) -> str:
    best = max(candidate.confidence for candidate in candidates)
    # Longest signature first, then by name, so the answer never depends on set ordering.
    tied = sorted((c for c in candidates if c.confidence == best),
                  key=lambda c: (-len(c.byte_match), c.mime_type, str(c.extension)))
    mime_types = list(dict.fromkeys(candidate.mime_type for candidate in tied))
    if len(mime_types) == 1:
        return mime_types[0]
    if name:
        lowered = name.strip().lower()
        for candidate in tied:
            if any(lowered.endswith(extension) for extension in _extensions_of(candidate)):
                return candidate.mime_type
    for container in _CONTAINERS_ON_TIE:
        if container in mime_types:
            return container
    return mime_types[0]


def _extensions_of(candidate) -> list[str]:
    extensions = candidate.extension if isinstance(candidate.extension, list) else [candidate.extension]
    return ["." + e.lower().lstrip(".") for e in extensions if e]


def _looks_like_text(head: bytes) -> bool:
    # The head may end inside a multi-byte character; a non-final decode keeps it back silently.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return bool(text) and not _BINARY_CHARACTERS.search(text)


class _CappedReader:
    """A read-only view of a file that never returns more than ``_EXIF_READ_LIMIT`` bytes per read.

    exifread believes the lengths written in the file, so a forged tag could make it read
    gigabytes; with the cap it gets a short read, which it treats as a damaged tag.
    """

    def __init__(self, file) -> None:
        self._file = file

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > _EXIF_READ_LIMIT:
            size = _EXIF_READ_LIMIT
        return self._file.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()


def _read_exif(file, *, media_type: str, errors: list[str]) -> dict[str, Any] | None:
    try:
        if media_type in ("image/jpeg", "image/webp"):
            # exifread 3.5.1 misses EXIF in these two: in a JPEG it looks only 4 000 bytes past
            # the segments it knows, so a C2PA (APP11) segment in front hides the EXIF block; in a
            # WebP it expects the JPEG-style "Exif" prefix, which the WebP specification leaves out.
            # We find the block ourselves and give exifread the bare TIFF structure inside it.
            block = _find_jpeg_exif(file) if media_type == "image/jpeg" else _find_webp_exif(file)
            if block is None:
                return None
            source = io.BytesIO(block)
        else:
            source = _CappedReader(file)
        # details=False skips maker notes; no thumbnail: neither is needed, both cost memory.
        tags = exifread.process_file(source, details=False, extract_thumbnail=False)
        if not tags:
            if isinstance(source, io.BytesIO):
                errors.append("exif: the file has an EXIF block but no tag in it could be read")
            return None
        return _summarise_exif(tags, errors=errors)
    except Exception as exc:  # whatever a damaged file makes exifread raise, the file stays evidence
        errors.append(_describe_failure("exif", exc))
        return None


def _find_jpeg_exif(file) -> bytes | None:
    """The TIFF structure inside the JPEG's APP1 "Exif" segment, if one comes before the image data."""
    file.seek(0)
    if file.read(2) != b"\xff\xd8":
        return None
    for _ in range(_MAX_SEGMENTS):
        marker = file.read(2)
        while marker[:1] == b"\xff" and marker[1:] == b"\xff":  # fill bytes before a marker
            marker = marker[1:] + file.read(1)
        if len(marker) < 2 or marker[0] != 0xFF or marker[1] in (0xD9, 0xDA):
            return None  # end of file, garbage, end of image or start of the image data
        if 0xD0 <= marker[1] <= 0xD7 or marker[1] == 0x01:
            continue  # markers without a length
        length = int.from_bytes(file.read(2), "big") - 2
        if length < 0:
            return None
        if marker[1] == 0xE1:
            payload = _read_exactly(file, length, what="EXIF segment")
            if payload.startswith(b"Exif\x00"):
                return payload[6:]
        else:
            file.seek(length, os.SEEK_CUR)
    return None


def _find_webp_exif(file) -> bytes | None:
    """The TIFF structure in the WebP's EXIF chunk, with or without a stray JPEG-style "Exif" prefix."""
    file.seek(12)  # past "RIFF", the size and "WEBP"
    for _ in range(_MAX_SEGMENTS):
        header = file.read(8)
        if len(header) < 8:
            return None
        size = int.from_bytes(header[4:], "little")
        if header[:4] == b"EXIF":
            payload = _read_exactly(file, min(size, _EXIF_READ_LIMIT), what="EXIF chunk")
            return payload[6:] if payload.startswith(b"Exif\x00") else payload
        file.seek(size + size % 2, os.SEEK_CUR)  # chunks are padded to an even length
    return None


def _read_exactly(file, size: int, *, what: str) -> bytes:
    data = file.read(size)
    if len(data) < size:
        raise ValueError(f"the {what} is cut short: {size} bytes declared, {len(data)} present")
    return data


def _summarise_exif(tags: Mapping[str, Any], *, errors: list[str]) -> dict[str, Any]:
    exif: dict[str, Any] = {}
    consumed: set[str] = set()

    for key, tag_name in (("camera_make", "Image Make"), ("camera_model", "Image Model"),
                          ("software", "Image Software")):
        text = _tag_text(tags.get(tag_name))
        if text:
            exif[key] = text
            consumed.add(tag_name)

    raw_taken = _tag_text(tags.get("EXIF DateTimeOriginal"))
    if raw_taken:
        consumed.add("EXIF DateTimeOriginal")
        exif["taken_at_raw"] = raw_taken
        taken_at = _parse_exif_moment(raw_taken, offset=_tag_text(tags.get("EXIF OffsetTimeOriginal")))
        if taken_at:
            exif["taken_at"] = taken_at
            consumed.add("EXIF OffsetTimeOriginal")

    if "GPS GPSLatitude" in tags or "GPS GPSLongitude" in tags:
        try:
            exif["gps"] = _parse_gps(tags)
            consumed.update(_CONSUMED_BY_GPS)
        except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError, AttributeError) as exc:
            errors.append(_describe_failure("exif gps", exc))

    orientation = tags.get("Image Orientation")
    values = getattr(orientation, "values", None)
    if isinstance(values, list) and values and isinstance(values[0], int):
        exif["orientation"] = values[0]
        consumed.add("Image Orientation")

    others = {}
    for name, value in tags.items():
        if name in consumed:
            continue
        text = str(value)
        if len(text) <= _MAX_TAG_CHARS:
            others[name] = text
    if others:
        exif["tags"] = others
    return exif


def _tag_text(tag) -> str | None:
    if tag is None:
        return None
    text = str(tag).strip().strip("\x00").strip()
    return text or None


def _parse_exif_moment(raw: str, *, offset: str | None) -> str | None:
    """ISO 8601 for an EXIF ``YYYY:MM:DD HH:MM:SS``; no offset is invented when the camera gave none.

    Cameras without a set clock write ``0000:00:00 00:00:00``; that and other non-dates give None,
    and the raw text is kept by the caller.
    """
    try:
        moment = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    iso = moment.isoformat()
    if offset and re.fullmatch(r"[+-]\d{2}:\d{2}", offset):
        iso += offset
    return iso


def _parse_gps(tags: Mapping[str, Any]) -> dict[str, float | None]:
    latitude = _degrees(tags["GPS GPSLatitude"], ref=tags.get("GPS GPSLatitudeRef"), positive="N",
                        negative="S", limit=90)
    longitude = _degrees(tags["GPS GPSLongitude"], ref=tags.get("GPS GPSLongitudeRef"), positive="E",
                         negative="W", limit=180)
    altitude = None
    if "GPS GPSAltitude" in tags:
        altitude = float(tags["GPS GPSAltitude"].values[0])
        ref = tags.get("GPS GPSAltitudeRef")
        ref_values = getattr(ref, "values", None)
        if ref_values and ref_values[0] in (1, b"\x01", "1"):  # 1 = below sea level
            altitude = -altitude
    return {"latitude": latitude, "longitude": longitude, "altitude_m": altitude}


def _degrees(tag, *, ref, positive: str, negative: str, limit: int) -> float:
    """Decimal degrees from EXIF degrees/minutes/seconds; the hemisphere letter gives the sign.

    Without a hemisphere the position could be mirrored across the equator or meridian, so a
    missing or unknown letter is an error rather than a guess.
    """
    parts = [float(part) for part in tag.values[:3]]
    value = sum(part / 60**index for index, part in enumerate(parts))
    if not 0 <= value <= limit:
        raise ValueError(f"{value} is outside 0..{limit} degrees")
    letter = (_tag_text(ref) or "").upper()[:1]
    if letter == positive:
        return value
    if letter == negative:
        return -value
    raise ValueError(f"no {positive}/{negative} reference for {value} degrees")


@functools.cache
def _c2pa_media_types() -> frozenset[str]:
    return frozenset(t for t in c2pa.Reader.get_supported_mime_types() if "/" in t)


def _read_content_credentials(file, *, media_type: str, size: int, errors: list[str]) -> dict[str, Any] | None:
    c2pa_type = _C2PA_ALIASES.get(media_type, media_type)
    if c2pa_type not in _c2pa_media_types():
        return None
    if c2pa_type in _C2PA_WHOLE_FILE_TYPES and size > _C2PA_WHOLE_FILE_LIMIT:
        errors.append(f"c2pa: not checked: the {c2pa_type} reader loads the whole file into memory and this "
                      f"file has {size} bytes (limit {_C2PA_WHOLE_FILE_LIMIT})")
        return None
    file.seek(0)
    try:
        with c2pa.Context.from_dict(_C2PA_OFFLINE_SETTINGS) as context:
            # The file we already hold open, with the type found from its content: c2pa would
            # otherwise guess the type from the name's extension.
            reader = c2pa.Reader.try_create(c2pa_type, file, None, context)
            if reader is None:  # no manifest at all: normal, not an error
                return None
            with reader:
                store = json.loads(reader.json())
        return _summarise_manifest_store(store)
    except c2pa.C2paError as exc:
        remote = _REMOTE_MANIFEST.search(str(exc))
        if remote:
            return {"remote_manifest_url": remote.group(1)}
        errors.append(_describe_failure("c2pa", exc))
    except Exception as exc:  # a damaged manifest must not stop the file being filed
        errors.append(_describe_failure("c2pa", exc))
    return None


def _summarise_manifest_store(store: dict[str, Any]) -> dict[str, Any]:
    label = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(label) or {}
    signature_info = manifest.get("signature_info") or {}
    signature = {"issuer": signature_info.get("issuer"), "time": signature_info.get("time")}
    for key in ("common_name", "alg", "cert_serial_number"):
        if signature_info.get(key) is not None:
            signature[key] = signature_info[key]
    return {
        "active_manifest": label,
        "claim_generator": _describe_claim_generator(manifest),
        "title": manifest.get("title"),
        "signature": signature,
        "assertions": [a.get("label") for a in manifest.get("assertions") or [] if isinstance(a, dict)],
        "validation_state": store.get("validation_state"),
        "validation_status": [s.get("code") for s in store.get("validation_status") or [] if isinstance(s, dict)],
        "manifest_store": store,
    }


def _describe_claim_generator(manifest: dict[str, Any]) -> str | None:
    """The v1 ``claim_generator`` string, or ``name/version`` pairs from v2 ``claim_generator_info``."""
    if manifest.get("claim_generator"):
        return str(manifest["claim_generator"])
    parts = []
    for info in manifest.get("claim_generator_info") or []:
        if isinstance(info, dict) and info.get("name"):
            parts.append(f"{info['name']}/{info['version']}" if info.get("version") else str(info["name"]))
    return " ".join(parts) or None


def _describe_failure(source: str, exc: BaseException) -> str:
    if isinstance(exc, c2pa.C2paError):
        text = f"{source}: {exc}"  # c2pa's messages already start with their kind ("Other: ...")
    else:
        text = f"{source}: {type(exc).__name__}: {exc}"
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."
