"""A published folder signed with the workspace's key, and its check by a mirror: altered, added,
missing and re-signed files are each named; the expected key is checked."""

from __future__ import annotations

import json
import os

import pytest

from dadkhah.publish import sign_site, verify_site
from dadkhah.vault.keys import create_keys, load_keys
from dadkhah.workspace import create_workspace
from tests.cli.test_cli import run


@pytest.fixture
def keys(tmp_path):
    workspace = create_workspace(tmp_path / "ws")
    create_keys(workspace, key_file=tmp_path / "keys" / "k.key")
    return load_keys(workspace.reloaded())


@pytest.fixture
def site(tmp_path, keys):
    folder = tmp_path / "site"
    (folder / "p" / "P-000001").mkdir(parents=True)
    (folder / "index.html").write_text("<h1>Memorial</h1>", encoding="utf-8")
    (folder / "p" / "P-000001" / "index.html").write_text("<h1>سمیه</h1>", encoding="utf-8")
    signed = sign_site(folder, keys)
    assert signed["files"] == 2 and signed["fingerprint"] == keys.fingerprint
    return folder


def test_an_unaltered_mirror_is_intact_and_signed_by_the_expected_key(site, keys, tmp_path):
    import shutil

    mirror = tmp_path / "mirror"
    shutil.copytree(site, mirror)
    report = verify_site(mirror, expect_key=keys.fingerprint)
    assert report["intact"] and report["problems"] == [] and report["files"] == 2
    other = verify_site(mirror, expect_key="SHA256:someone-else")
    assert not other["intact"] and "not by the expected" in other["problems"][0]["problem"]


def test_each_change_is_named_with_its_file(site, keys):
    (site / "index.html").write_text("<h1>Altered</h1>", encoding="utf-8")
    (site / "extra.html").write_text("added", encoding="utf-8")
    (site / "p" / "P-000001" / "index.html").unlink()
    problems = {p["file"]: p["problem"] for p in verify_site(site, expect_key=keys.fingerprint)["problems"]}
    assert problems == {"index.html": "its SHA-256 differs from the manifest's: altered",
                        "extra.html": "present but not in the manifest: added",
                        "p/P-000001/index.html": "listed in the manifest but missing"}


def test_a_manifest_edited_to_match_breaks_its_signature(site, keys):
    (site / "index.html").write_text("<h1>Altered</h1>", encoding="utf-8")
    manifest = json.loads((site / "manifest.json").read_text(encoding="utf-8"))
    import hashlib

    manifest["files"]["index.html"] = hashlib.sha256(b"<h1>Altered</h1>").hexdigest()
    (site / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    report = verify_site(site, expect_key=keys.fingerprint)
    assert not report["intact"]
    assert [p["file"] for p in report["problems"]] == ["manifest.json"]


def test_a_damaged_manifest_or_signature_is_named_for_itself(site, keys, tmp_path):
    import shutil

    for damaged in ("manifest.json", "manifest.sig"):
        copy = tmp_path / f"copy-{damaged}"
        shutil.copytree(site, copy)
        with open(copy / damaged, "a", encoding="utf-8") as handle:
            handle.write("x")
        report = verify_site(copy, expect_key=keys.fingerprint)
        assert not report["intact"] and [p["file"] for p in report["problems"]] == [damaged], report


def test_an_unsigned_folder_links_and_paths_outside_are_refused(site, keys, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    assert verify_site(bare)["problems"] == [{"file": "manifest.json", "problem": "missing: the folder is not signed"}]
    os.symlink("/etc/passwd", site / "link.html")
    report = verify_site(site, expect_key=keys.fingerprint)
    assert {"file": "link.html", "problem": "a link or special file: not part of what was signed"} in report["problems"]
    with pytest.raises(Exception, match="links or special files"):
        sign_site(site, keys)


def test_the_command_exits_one_on_any_problem_and_prints_one_document(site, keys):
    good = run("verify-site", str(site), "--expect-key", keys.fingerprint, "--json")
    assert good.exit_code == 0 and json.loads(good.stdout)["intact"]
    (site / "index.html").write_text("changed", encoding="utf-8")
    bad = run("verify-site", str(site), "--expect-key", keys.fingerprint, "--json")
    assert bad.exit_code == 1 and json.loads(bad.stdout)["problems"][0]["file"] == "index.html"
