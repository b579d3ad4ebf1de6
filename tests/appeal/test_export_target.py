"""Where an export may be written: never over one of the workspace's own files (its database,
configuration, key file, sealed blobs, quarantine reports), even when asked to replace; over another
existing file only when asked. (The letter's export and the printed report wrote over anything, the
workspace's database included.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from dadkhah.appeal import export_appeal
from dadkhah.errors import InputError
from dadkhah.publish.exports import export_table
from dadkhah.publish.report import print_report
from tests.conftest import TESTER


def _own_files(store) -> list:
    workspace = store.workspace
    own = [workspace.config_path, workspace.blobs_dir / "x", workspace.quarantine_dir / "x.csv"]
    if workspace.is_sqlite:
        own += [workspace.path / "dadkhah.db", workspace.path / "dadkhah.db-wal"]
    key_file = workspace.key_file_location()
    own += [key_file, f"{key_file}.audit-head"]
    return own


def test_no_export_writes_over_the_workspace_s_own_files(store, keys, appeal):
    workspace = store.workspace
    assert workspace.owns(workspace.config_path) and not workspace.owns(workspace.path / "report.pdf")
    assert not workspace.owns(workspace.path) and not workspace.owns(workspace.path.parent / "dadkhah.toml")
    for target in _own_files(store):
        before = Path(target).read_bytes() if Path(target).is_file() else None
        for export in (lambda out: export_appeal(store, "inquiry", actor=TESTER, format="csv", out=out, overwrite=True),
                       lambda out: export_table(store, out, table="persons", actor=TESTER, format="csv", overwrite=True),
                       lambda out: print_report(store, out, actor=TESTER, language="en", overwrite=True)):
            with pytest.raises(InputError, match="workspace's own files") as refused:
                export(target)
            assert refused.value.field == "out" and refused.value.file == str(target)
        if before is not None:
            assert Path(target).read_bytes() == before, target


def test_an_existing_file_is_replaced_only_when_asked(store, keys, appeal, tmp_path):
    for name, export in (("letter.csv", lambda out, overwrite: export_appeal(store, "inquiry", actor=TESTER, format="csv",
                                                                              out=out, overwrite=overwrite)),
                         ("report.pdf", lambda out, overwrite: print_report(store, out, actor=TESTER, language="en",
                                                                            overwrite=overwrite))):
        target = tmp_path / name
        target.write_text("precious")
        with pytest.raises(InputError, match="exists") as refused:
            export(target, False)
        assert refused.value.field == "out" and target.read_text() == "precious"
        export(target, True)
        assert target.read_bytes() != b"precious" and target.stat().st_size > 0
    with pytest.raises(InputError, match="does not exist"):
        export_appeal(store, "inquiry", actor=TESTER, format="csv", out=tmp_path / "nowhere" / "letter.csv")
    assert not (tmp_path / "nowhere").exists(), "no folder is made for it"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], "no partial file is left"


def test_a_file_is_written_in_the_format_its_name_says(store, keys, appeal, tmp_path):
    for format, name in (("pdf", "letter.csv"), ("csv", "letter.pdf")):
        with pytest.raises(InputError, match="name ends in") as refused:
            export_appeal(store, "inquiry", actor=TESTER, format=format, out=tmp_path / name)
        assert refused.value.field == "format" and not (tmp_path / name).exists()
    with pytest.raises(InputError, match="name ends in"):
        export_table(store, tmp_path / "persons.csv", table="persons", actor=TESTER, format="xlsx")
    written = export_appeal(store, "inquiry", actor=TESTER, format="csv", out=tmp_path / "signatories.txt")
    assert Path(written["path"]).read_text(encoding="utf-8-sig").startswith("name,"), "any other name: as asked"
