"""Verify a case file with nothing but the tool: complete, unaltered, and signed by the expected key.

Checks, each reported with the file it concerns: the bag's structure and every checksum (with the
``bagit`` library); that no file outside ``data/`` escapes the manifests; the Ed25519 signature
over the tag manifest; the signing key's fingerprint against ``--expect-key``; that ``casefile.json``
and the files agree; and every custody event's hash and signature. Nothing is fetched.

When the case file was timestamped, every token in ``signature-timestamps.json`` must be a good
RFC 3161 token over the bytes of ``signature.json`` (:func:`dadkhah.vault.tsa.check_token`); with
``tsa_root`` its certificate must also chain to one of the roots in that file, and a case file
without a timestamp then fails. Without it, the report says plainly that no token's chain was
checked against a trusted root: the token shows who holds the key that signed it, not who that is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import bagit
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dadkhah.chain import parse_key_change, public_key_raw
from dadkhah.errors import InputError
from dadkhah.vault.custody import CUSTODY_CHAIN, check_event
from dadkhah.vault.keys import fingerprint
from dadkhah.vault.timestamps import SIGNATURE_TIMESTAMPS_FORMAT, check_entries
from dadkhah.vault.tsa import load_roots

SIGNATURE_FILE = "signature.json"
SIGNED_FILE = "tagmanifest-sha256.txt"
TIMESTAMPS_FILE = "signature-timestamps.json"  # beside the signature: made after it, so outside what it signs


def _problem(file: str, problem: str) -> dict:
    return {"file": file, "problem": problem}


def _bag_problems(root: Path, bag: bagit.Bag) -> list[dict]:
    """Each missing, added or altered file by name; then the bagit library's own structural checks."""
    found = []
    only_in_manifests, only_on_fs = bag.compare_manifests_with_fs()
    for path in sorted(only_in_manifests):
        found.append(_problem(Path(path).as_posix(), "listed in the manifest but missing"))
    for path in sorted(only_on_fs):
        found.append(_problem(Path(path).as_posix(), "present but not in the manifest: added"))
    for path, hashes in sorted(bag.entries.items()):
        file = root / path
        if not file.is_file():
            continue  # reported above (payload) or below (tag files)
        for algorithm, expected in hashes.items():
            if algorithm not in hashlib.algorithms_guaranteed:
                found.append(_problem(Path(path).as_posix(), f"uses the unknown checksum {algorithm!r}"))
                continue
            digest = hashlib.new(algorithm)
            with open(file, "rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 20), b""):
                    digest.update(block)
            if digest.hexdigest() != expected.lower():
                found.append(_problem(Path(path).as_posix(), f"its {algorithm} differs from the manifest's: altered"))
    if found:
        return found
    try:
        bag.validate(processes=1, completeness_only=True)  # structure, bagit.txt, Payload-Oxum; checksums done above
    except bagit.BagError as exc:
        found.append(_problem(".", f"not a valid bag: {exc}"))
    return found


def _unlisted_tag_files(root: Path, bag: bagit.Bag) -> list[dict]:
    listed = {name.replace(os.sep, "/") for name in bag.tagfile_entries()} | {SIGNED_FILE, SIGNATURE_FILE, TIMESTAMPS_FILE}
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("data/") or relative == "data" or path.is_dir():
            continue
        if relative not in listed:
            found.append(_problem(relative, "a file outside data/ that no manifest covers"))
    return found


def _signature(root: Path, expect_key: str | None) -> tuple[Ed25519PublicKey | None, str | None, list[dict]]:
    path = root / SIGNATURE_FILE
    if not path.is_file():
        return None, None, [_problem(SIGNATURE_FILE, "missing: the case file is not signed")]
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        public = base64.b64decode(document["public_key"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(public)
        signature = base64.b64decode(document["signature"], validate=True)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        return None, None, [_problem(SIGNATURE_FILE, f"unreadable ({type(exc).__name__})")]
    print_ = fingerprint(public)
    problems = []
    if document.get("signed_file") != SIGNED_FILE:
        problems.append(_problem(SIGNATURE_FILE, f"signs {document.get('signed_file')!r}, not {SIGNED_FILE}"))
    signed = root / SIGNED_FILE
    if not signed.is_file():
        problems.append(_problem(SIGNED_FILE, "missing: nothing fixes the manifests"))
    else:
        try:
            key.verify(signature, signed.read_bytes())
        except InvalidSignature:
            problems.append(_problem(SIGNED_FILE, "the signature does not match: the manifests were rewritten after signing"))
    if expect_key and expect_key.strip() != print_:
        problems.append(_problem(SIGNATURE_FILE, f"signed by key {print_}, not the expected {expect_key.strip()}"))
    return key, print_, problems


def _casefile_problems(root: Path, key: Ed25519PublicKey | None, print_: str | None) -> tuple[dict, list[dict]]:
    path = root / "data" / "casefile.json"
    if not path.is_file():
        return {}, [_problem("data/casefile.json", "missing")]
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, [_problem("data/casefile.json", f"unreadable ({type(exc).__name__})")]
    problems = []
    if print_ and (document.get("instance_key") or {}).get("fingerprint") != print_:
        problems.append(_problem("data/casefile.json", "names another instance key than the one that signed the bag"))
    listed = [(e.get("path"), e.get("sha256")) for e in document.get("evidence", [])]
    listed += [((t.get("transcript") or {}).get("path"), (t.get("transcript") or {}).get("sha256"))
               for t in document.get("testimonies", [])]
    for relative, expected in listed:
        if not relative or not expected:
            problems.append(_problem("data/casefile.json", "an item without a path or SHA-256"))
            continue
        file = (root / relative).resolve()
        if not file.is_relative_to((root / "data").resolve()) or not file.is_file():
            problems.append(_problem(relative, "named in casefile.json but missing"))
            continue
        digest = hashlib.sha256()
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            problems.append(_problem(relative, "its SHA-256 differs from the one casefile.json records"))
    custody = root / "data" / "custody.jsonl"
    if not custody.is_file():
        problems.append(_problem("data/custody.jsonl", "missing"))
    elif key is not None:
        problems += _custody_problems(custody, key)
    return document, problems


def _custody_problems(custody: Path, key: Ed25519PublicKey) -> list[dict]:
    """Each custody event checked with the key that was in force when it was written: the case
    file's own key, and before each key rotation the custody carries (``signing key rotated``, signed
    by the old key and vouched for by the new one) the key it replaced."""
    events: list[tuple[int, dict | None]] = []
    with open(custody, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                event = json.loads(line)
                events.append((number, event if isinstance(event, dict) else None))
            except json.JSONDecodeError:
                events.append((number, None))
    problems = []
    changes = [(number, event, parse_key_change(event.get("details"))) for number, event in events
               if event is not None and CUSTODY_CHAIN.is_key_change(_Row(event))]
    current = key
    if changes:
        parsed = [c for _n, _e, c in changes if c is not None]
        if parsed and parsed[-1]["new"] == public_key_raw(key):
            current = Ed25519PublicKey.from_public_bytes(parsed[0]["old"])
        else:
            problems.append(_problem("data/custody.jsonl", "its key rotations do not lead to the key that signed the "
                                                           "case file"))
    for number, event in events:
        where = f"data/custody.jsonl:{number}"
        if event is None:
            problems.append(_problem(where, "not a custody event"))
            continue
        try:
            problems.extend(_problem(where, problem) for problem in check_event(event, current))
        except (KeyError, TypeError):
            problems.append(_problem(where, "not a custody event"))
            continue
        if CUSTODY_CHAIN.is_key_change(_Row(event)):
            change = parse_key_change(event.get("details"))
            if change is None or change["old"] != public_key_raw(current) or not change["vouched"]:
                problems.append(_problem(where, "this key rotation is not signed by both the old key and the new one"))
            else:
                current = Ed25519PublicKey.from_public_bytes(change["new"])
    return problems


class _Row:
    """An event read from a case file, seen as the chain sees its rows."""

    def __init__(self, event: dict) -> None:
        self.__dict__.update(event)


def _timestamps(root: Path, roots: list | None) -> tuple[list[dict], list[dict]]:
    """Each token over ``signature.json``, checked (against ``roots`` when given), and the problems."""
    path = root / TIMESTAMPS_FILE
    if not path.is_file():
        return [], ([_problem(TIMESTAMPS_FILE, "missing: the case file was not timestamped, so no timestamp can be "
                                               "checked against the trusted root given")] if roots else [])
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise TypeError
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        return [], [_problem(TIMESTAMPS_FILE, f"unreadable ({type(exc).__name__})")]
    problems = []
    covers = document.get("covers") if isinstance(document.get("covers"), dict) else {}
    if document.get("format") != SIGNATURE_TIMESTAMPS_FORMAT or covers.get("file") != SIGNATURE_FILE:
        problems.append(_problem(TIMESTAMPS_FILE, f"does not say it timestamps {SIGNATURE_FILE}"))
    signature = root / SIGNATURE_FILE
    if not signature.is_file():
        return [], problems  # reported with the signature
    digest = hashlib.sha256(signature.read_bytes()).digest()
    if covers.get("sha256") != digest.hex():
        problems.append(_problem(TIMESTAMPS_FILE, f"records another SHA-256 than that of {SIGNATURE_FILE}: the "
                                                  "signature was replaced after it was timestamped"))
    results = check_entries(document.get("timestamps"), digest, roots)
    for result in results:
        who = result["name"] or result["authority"] or "an unknown authority"
        problems.extend(_problem(TIMESTAMPS_FILE, f"timestamp {result['number']} (by {who}): {problem}")
                        for problem in result["problems"])
    return results, problems


def verify_casefile(path: str | os.PathLike, *, expect_key: str | None = None,
                    tsa_root: str | os.PathLike | None = None) -> dict:
    """Everything that is wrong with the case file at ``path`` (nothing, when ``valid``).

    ``tsa_root`` is a file of the time-stamping authorities' root certificates the recipient trusts
    (PEM, one or more): with it, the case file must be timestamped, and every token must chain to one.
    """
    roots = load_roots(tsa_root) if tsa_root else None
    root = Path(path)
    if not root.is_dir():
        raise InputError("is not a folder (a case file is a folder: unpack it first)", file=str(root))
    if not (root / "bagit.txt").is_file():
        raise InputError("is not a BagIt bag (no bagit.txt)", file=str(root))
    problems: list[dict] = []
    if (root / "fetch.txt").exists():
        problems.append(_problem("fetch.txt", "case files hold every file; a fetch list is not accepted"))
    try:
        bag = bagit.Bag(str(root))
    except bagit.BagError as exc:
        return {"valid": False, "path": str(root), "fingerprint": None, "problems": [_problem(".", f"not a valid bag: {exc}")]}
    problems += _bag_problems(root, bag)
    problems += _unlisted_tag_files(root, bag)
    key, print_, signature_problems = _signature(root, expect_key)
    problems += signature_problems
    document, casefile_problems = _casefile_problems(root, key, print_)
    problems += casefile_problems
    timestamps, timestamp_problems = _timestamps(root, roots)
    problems += timestamp_problems
    return {
        "valid": not problems, "path": str(root), "fingerprint": print_,
        "expected_key": expect_key, "key_checked": bool(expect_key),
        "timestamps": timestamps, "tsa_root": str(tsa_root) if tsa_root else None,
        "casefile": document.get("casefile"), "recipient": document.get("recipient"), "scope": document.get("scope"),
        "files": len(bag.payload_entries()) if hasattr(bag, "payload_entries") else None,
        "problems": problems,
    }
