"""Unpacking an uploaded ZIP (Kobo's attachments, Tella's shared folder): nothing lands outside its
folder, nothing beyond the workspace's limits is written, folders are kept."""

from __future__ import annotations

import stat
import zipfile

import pytest

from dadkhah.errors import InputError, LimitExceeded
from dadkhah.ingest.limits import ReadLimits
from dadkhah.vault.files import unpack_zip


def _zip(path, members: dict[str, bytes], *, links: dict[str, str] | None = None):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def test_folders_are_kept_and_files_are_private(tmp_path):
    archive = _zip(tmp_path / "a.zip", {"team/attachments/u1/photo.jpg": b"jpeg", "top.txt": b"t",
                                        "__MACOSX/._top.txt": b"fork", "empty/": b""})
    out = tmp_path / "out"
    out.mkdir()
    files = unpack_zip(archive, out, limits=ReadLimits(), shown="a.zip", field="attachments_zip")
    assert sorted(p.relative_to(out).as_posix() for p in files) == ["team/attachments/u1/photo.jpg", "top.txt"]
    assert (out / "team/attachments/u1/photo.jpg").read_bytes() == b"jpeg"
    assert stat.S_IMODE((out / "top.txt").stat().st_mode) == 0o600
    assert not (out / "__MACOSX").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "C:/evil.txt",
                                  "a\\..\\evil.txt", "a//b.txt", "./a.txt", "a/\x01.txt"])
def test_a_member_that_could_land_elsewhere_is_refused_and_nothing_is_written(tmp_path, name):
    archive = _zip(tmp_path / "bad.zip", {"first.txt": b"1", name: b"evil"})
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    with pytest.raises(InputError) as refused:
        unpack_zip(archive, out, limits=ReadLimits(), shown="bad.zip", field="files_zip")
    assert refused.value.field == "files_zip" and refused.value.file == "bad.zip"
    assert not list(out.iterdir()) and not (tmp_path / "deep" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_symbolic_links_and_repeated_names_are_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="symbolic link"):
        unpack_zip(_zip(tmp_path / "l.zip", {}, links={"link": "/etc/passwd"}), out, limits=ReadLimits(), shown="l.zip")
    with zipfile.ZipFile(tmp_path / "twice.zip", "w") as archive:
        archive.writestr("a.txt", b"1")
        with pytest.warns(UserWarning):
            archive.writestr("a.txt", b"2")
    with pytest.raises(InputError, match="twice"):
        unpack_zip(tmp_path / "twice.zip", out, limits=ReadLimits(), shown="twice.zip")


def test_what_is_not_a_zip_or_decompresses_beyond_the_limit_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "no.zip").write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match="not a ZIP"):
        unpack_zip(tmp_path / "no.zip", out, limits=ReadLimits(), shown="no.zip")
    bomb = _zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(3 * 2**20)})
    with pytest.raises(LimitExceeded, match="import.max_uncompressed_mb"):
        unpack_zip(bomb, out, limits=ReadLimits(max_uncompressed_mb=2), shown="bomb.zip")
