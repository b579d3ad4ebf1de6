"""Media types from content, EXIF and C2PA read from real files, and every file left as it was.

Nothing is mocked. Pillow writes the images; ``cryptography`` makes a throwaway certificate chain
and c2pa's own Builder signs with it, all inside the test run: no certificate is stored in the
repository and nothing is downloaded. A local HTTP server stands in for the internet: the signing
certificate names it as its OCSP responder and one file names it as its remote manifest, so any
request c2pa made while reading would show up there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import io
import random
import struct
import threading
import tracemalloc
import zipfile
from pathlib import Path

import c2pa
import puremagic
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from PIL import Image
from PIL.ExifTags import GPS, IFD, Base

from dadkhah.vault.metadata import HEAD_BYTES, detect_media_type, extract_metadata

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MANIFEST = {
    "claim_generator_info": [{"name": "dadkhah-tests", "version": "0.1"}],
    "title": "rally.jpg",
    "assertions": [{
        "label": "c2pa.actions",
        "data": {"actions": [{
            "action": "c2pa.created",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
        }]},
    }],
}
# Mashhad: 36.2605 N, 59.6168 E, written as degrees, minutes, seconds the way cameras do.
MASHHAD = {"latitude": ((36, 15, 37.8), "N"), "longitude": ((59, 37, 0.48), "E"), "altitude": (995.5, 0)}
# South and west of zero and below sea level, so every sign is exercised.
SOUTH_WEST_BELOW = {"latitude": ((33, 51, 24.48), "S"), "longitude": ((70, 38, 53.88), "W"),
                    "altitude": (12.5, 1)}


# ---------------------------------------------------------------------------------------------
# Building files


def make_image(fmt: str = "JPEG", *, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    extra = {"exif": exif.tobytes()} if exif is not None else {}
    Image.new("RGB", (64, 48), (40, 120, 60)).save(buffer, fmt, **extra)
    return buffer.getvalue()


def make_exif(position: dict | None = MASHHAD, *, taken: str = "2022:09:21 18:45:12",
              offset: str | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[Base.Make] = "Canon"
    exif[Base.Model] = "EOS R6"
    exif[Base.Software] = "Firmware 1.8.0"
    exif[Base.Orientation] = 6
    exif[Base.ImageDescription] = "Gathering outside the courthouse"
    exif[Base.Artist] = "x" * 600  # longer than the 500 characters kept per tag
    exif.get_ifd(IFD.Exif)[Base.DateTimeOriginal] = taken
    if offset:
        exif.get_ifd(IFD.Exif)[Base.OffsetTimeOriginal] = offset
    if position:
        gps = exif.get_ifd(IFD.GPSInfo)
        (lat, lat_ref), (lon, lon_ref) = position["latitude"], position["longitude"]
        altitude, altitude_ref = position["altitude"]
        gps[GPS.GPSLatitude], gps[GPS.GPSLatitudeRef] = lat, lat_ref
        gps[GPS.GPSLongitude], gps[GPS.GPSLongitudeRef] = lon, lon_ref
        gps[GPS.GPSAltitude], gps[GPS.GPSAltitudeRef] = altitude, bytes([altitude_ref])
    return exif


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def mp4_bytes(payload: int = 1024) -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 0x200) + b"isommp41"
    return ftyp + struct.pack(">I", 8 + payload) + b"mdat" + bytes(payload)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evidence.txt", "statement")
    return buffer.getvalue()


class Listener:
    """A local HTTP server that answers 404 and remembers every request it was sent."""

    def __init__(self) -> None:
        requests = self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(("GET", self.path))
                self.send_error(404)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def credentials(listener) -> tuple[bytes, bytes]:
    """A root CA and a signing certificate the way C2PA wants it, as PEM (chain, private key).

    c2pa 0.91 checks the signer's certificate profile: X.509 v3, not a CA, digitalSignature key
    usage, an allowed extended key usage (emailProtection here; documentSigning or the C2PA
    claim-signing OID also pass), an Authority Key Identifier, and an ES256/384/512, PS or Ed25519
    key. It also names our listener as its OCSP responder, the one URL c2pa would call for it.
    """
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Dadkhah Test Root"),
                           x509.NameAttribute(NameOID.COMMON_NAME, "Dadkhah Test Root CA")])
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    signer_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Dadkhah tests"),
                             x509.NameAttribute(NameOID.COMMON_NAME, "Field documenter")])
    ocsp = x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                  x509.UniformResourceIdentifier(f"{listener.url}/ocsp"))
    leaf = (
        x509.CertificateBuilder().subject_name(signer_name).issuer_name(root_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .add_extension(x509.AuthorityInformationAccess([ocsp]), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + root.public_bytes(serialization.Encoding.PEM)
    private_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return chain, private_key


def _key_usage(**granted: bool) -> x509.KeyUsage:
    usages = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
              "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{usage: granted.get(usage, False) for usage in usages})


def sign_jpeg(jpeg: bytes, credentials: tuple[bytes, bytes], *, remote_url: str | None = None) -> bytes:
    """``jpeg`` with a C2PA manifest embedded (or, given ``remote_url``, only pointed to)."""
    chain, private_key = credentials
    # No timestamp authority (None): signing stays offline, so the signature carries no time.
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, private_key, None))
    signed = io.BytesIO()
    with c2pa.Context.from_dict({"core": {"allowed_network_hosts": []}}) as context, \
            c2pa.Builder(MANIFEST, context=context) as builder:
        if remote_url:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        builder.sign(signer, "image/jpeg", io.BytesIO(jpeg), signed)
    return signed.getvalue()


# ---------------------------------------------------------------------------------------------
# Media types


@pytest.mark.parametrize(("head", "expected"), [
    (make_image("JPEG"), "image/jpeg"),
    (make_image("PNG"), "image/png"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "application/pdf"),
    (mp4_bytes(), "video/mp4"),
    (zip_bytes(), "application/zip"),  # the bytes prove a ZIP, not which ZIP-based format
    ("گزارش شاهد\nWitness report, Mashhad\n".encode(), "text/plain"),
    (random.Random(7).randbytes(4096), "application/octet-stream"),
    (b"", "application/octet-stream"),
], ids=["jpeg", "png", "pdf", "mp4", "zip", "utf8-text", "random", "empty"])
def test_media_type_comes_from_the_content(head, expected):
    assert detect_media_type(head[:HEAD_BYTES]) == expected


@pytest.mark.parametrize(("head", "name", "expected"), [
    (make_image("JPEG"), "x.pdf", "image/jpeg"),
    (make_image("PNG"), "photo.jpg", "image/png"),
    (random.Random(7).randbytes(4096), "holiday.jpg", "application/octet-stream"),
    (b"plain words\n", "clip.mp4", "text/plain"),
])
def test_a_misleading_name_does_not_change_the_type(head, name, expected):
    assert detect_media_type(head, name=name) == expected


def test_the_name_only_breaks_a_tie_between_equally_good_signatures():
    # PK\x03\x04 starts both a ZIP and a DOCX with the same confidence: the name may choose.
    assert detect_media_type(zip_bytes(), name="statement.DOCX") == DOCX
    assert detect_media_type(zip_bytes(), name="statement.zip") == "application/zip"
    assert detect_media_type(zip_bytes(), name="statement.jpg") == "application/zip"


def test_a_two_byte_signature_does_not_turn_text_into_a_bitmap():
    assert detect_media_type(b"BM and MZ are initials here, not a bitmap or a program.\n") == "text/plain"
    assert detect_media_type(b"BM" + bytes(62)) == "image/x-ms-bmp"  # binary: the signature stands


def test_text_cut_inside_a_character_is_still_text():
    head = "شهادت".encode()
    assert detect_media_type(head[:-1]) == "text/plain"


def test_head_bytes_covers_every_puremagic_header_signature():
    assert HEAD_BYTES >= puremagic.main.max_head


# ---------------------------------------------------------------------------------------------
# EXIF


@pytest.mark.parametrize(("position", "expected"), [
    (MASHHAD, (36.2605, 59.6168, 995.5)),
    (SOUTH_WEST_BELOW, (-33.8568, -70.6483, -12.5)),
], ids=["north-east", "south-west-below-sea-level"])
def test_exif_gives_camera_time_and_position(tmp_path, position, expected):
    path = write(tmp_path / "photo.jpg", make_image(exif=make_exif(position)))
    metadata = extract_metadata(path, media_type="image/jpeg")

    assert set(metadata) == {"exif"}  # no C2PA, no errors
    exif = metadata["exif"]
    assert exif["camera_make"] == "Canon"
    assert exif["camera_model"] == "EOS R6"
    assert exif["software"] == "Firmware 1.8.0"
    assert exif["orientation"] == 6
    assert exif["taken_at"] == "2022-09-21T18:45:12"  # no offset recorded, so none invented
    assert exif["taken_at_raw"] == "2022:09:21 18:45:12"
    latitude, longitude, altitude = expected
    assert exif["gps"]["latitude"] == pytest.approx(latitude, abs=1e-6)
    assert exif["gps"]["longitude"] == pytest.approx(longitude, abs=1e-6)
    assert exif["gps"]["altitude_m"] == pytest.approx(altitude)
    assert exif["tags"]["Image ImageDescription"] == "Gathering outside the courthouse"
    assert "Image Artist" not in exif["tags"]  # 600 characters: over the bound
    assert "Image Make" not in exif["tags"] and "GPS GPSLatitude" not in exif["tags"]


def test_taken_at_keeps_the_offset_the_camera_recorded(tmp_path):
    path = write(tmp_path / "photo.jpg", make_image(exif=make_exif(offset="+03:30")))
    assert extract_metadata(path, media_type="image/jpeg")["exif"]["taken_at"] == "2022-09-21T18:45:12+03:30"


def test_an_unset_camera_clock_keeps_only_the_raw_text(tmp_path):
    path = write(tmp_path / "photo.jpg", make_image(exif=make_exif(taken="0000:00:00 00:00:00")))
    exif = extract_metadata(path, media_type="image/jpeg")["exif"]
    assert exif["taken_at_raw"] == "0000:00:00 00:00:00"
    assert "taken_at" not in exif


def test_a_position_without_hemisphere_is_reported_not_guessed(tmp_path):
    exif = make_exif()
    del exif.get_ifd(IFD.GPSInfo)[GPS.GPSLatitudeRef]
    metadata = extract_metadata(write(tmp_path / "photo.jpg", make_image(exif=exif)), media_type="image/jpeg")
    assert "gps" not in metadata["exif"]
    assert "GPS GPSLatitude" in metadata["exif"]["tags"]  # the raw values are kept
    assert any(error.startswith("exif gps: ") for error in metadata["errors"])


@pytest.mark.parametrize(("fmt", "media_type"), [("PNG", "image/png"), ("WEBP", "image/webp"),
                                                  ("TIFF", "image/tiff")])
def test_exif_is_read_from_other_image_formats(tmp_path, fmt, media_type):
    path = write(tmp_path / "photo", make_image(fmt, exif=make_exif()))
    exif = extract_metadata(path, media_type=media_type)["exif"]
    assert (exif["camera_make"], exif["gps"]["latitude"]) == ("Canon", pytest.approx(36.2605))


@pytest.mark.parametrize(("fmt", "media_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_an_image_without_exif_has_no_exif_key(tmp_path, fmt, media_type):
    path = write(tmp_path / "plain", make_image(fmt))
    assert extract_metadata(path, media_type=media_type) == {}


def test_exif_is_not_looked_for_in_other_types(tmp_path):
    path = write(tmp_path / "photo.jpg", make_image(exif=make_exif()))
    assert extract_metadata(path, media_type="application/octet-stream") == {}


def test_a_video_without_credentials_has_nothing_to_report(tmp_path):
    assert extract_metadata(write(tmp_path / "clip.mp4", mp4_bytes()), media_type="video/mp4") == {}


@pytest.mark.parametrize("cut", [30, 0.5], ids=["inside-the-exif-header", "half-the-file"])
def test_a_truncated_jpeg_is_reported_not_raised(tmp_path, cut):
    data = make_image(exif=make_exif())
    path = write(tmp_path / "broken.jpg", data[: cut if isinstance(cut, int) else int(len(data) * cut)])
    metadata = extract_metadata(path, media_type="image/jpeg")
    assert metadata["errors"]
    # c2pa cannot parse either cut; exifread only fails when its own header is cut.
    assert any(error.startswith("c2pa: ") for error in metadata["errors"])
    if cut == 30:
        assert any(error.startswith("exif: ") for error in metadata["errors"])
    assert all(len(error) <= 300 for error in metadata["errors"])


def test_an_oversized_jpeg_skips_the_in_memory_c2pa_reader(tmp_path):
    """c2pa loads a whole JPEG into memory (about 3x its size), so a huge one is not given to it."""
    path = write(tmp_path / "huge.jpg", make_image(exif=make_exif()))
    with path.open("r+b") as file:
        file.truncate(300 * 1024 * 1024)  # sparse: above the 256 MiB limit, costs no disk
    metadata = extract_metadata(path, media_type="image/jpeg")
    assert metadata["exif"]["camera_make"] == "Canon"  # EXIF reading is bounded whatever the size
    assert metadata["errors"] == [error for error in metadata["errors"] if "c2pa: not checked" in error]
    assert len(metadata["errors"]) == 1


def test_a_forged_exif_length_does_not_become_an_allocation(tmp_path):
    """A TIFF whose description claims 1.5 GB: exifread alone reads it all (measured: 2.9 GB)."""
    path = tmp_path / "forged.tif"
    with path.open("wb") as file:
        description = struct.pack("<HHII", 270, 2, 1_500_000_000, 26)  # tag, ASCII, count, offset
        file.write(b"II*\x00" + struct.pack("<IH", 8, 1) + description + struct.pack("<I", 0))
        file.truncate(2 * 1024**3)  # sparse: no disk is used
    tracemalloc.start()
    try:
        extract_metadata(path, media_type="image/tiff")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 1024 * 1024


def test_a_path_that_cannot_be_opened_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        extract_metadata(tmp_path / "missing.jpg", media_type="image/jpeg")
    with pytest.raises(IsADirectoryError):
        extract_metadata(tmp_path, media_type="image/jpeg")


# ---------------------------------------------------------------------------------------------
# C2PA Content Credentials


def test_content_credentials_are_reported(tmp_path, credentials, listener):
    path = write(tmp_path / "rally.jpg", sign_jpeg(make_image(exif=make_exif()), credentials))
    metadata = extract_metadata(path, media_type="image/jpeg")

    assert "errors" not in metadata
    assert metadata["exif"]["camera_make"] == "Canon"  # signing kept the EXIF block
    manifest = metadata["c2pa"]
    assert manifest["active_manifest"].startswith("urn:c2pa:")
    assert manifest["active_manifest"] == manifest["manifest_store"]["active_manifest"]
    assert manifest["title"] == "rally.jpg"
    assert manifest["claim_generator"].startswith("dadkhah-tests/0.1")
    assert manifest["assertions"] == ["c2pa.actions.v2"]  # c2pa stores c2pa.actions as version 2
    # c2pa's "issuer" is the organisation named in the signing certificate (who issued the
    # claim), not the certificate authority that issued the certificate.
    assert manifest["signature"]["issuer"] == "Dadkhah tests"
    assert manifest["signature"]["common_name"] == "Field documenter"
    assert manifest["signature"]["time"] is None  # signed without a timestamp authority
    # The signature and the hash of the image check out; the only failure is that our throwaway
    # root is on no trust list, so the signer is "untrusted". A real camera's or newsroom's
    # certificate is untrusted too until the vault is given trust anchors.
    assert manifest["validation_status"] == ["signingCredential.untrusted"]
    assert manifest["validation_state"] == "Valid"
    passed = {item["code"] for item in manifest["manifest_store"]["validation_results"]["activeManifest"]["success"]}
    assert {"claimSignature.validated", "assertion.dataHash.match"} <= passed
    assert listener.requests == []  # the certificate's OCSP responder was not asked


def test_an_altered_file_fails_validation(tmp_path, credentials):
    data = bytearray(sign_jpeg(make_image(), credentials))
    # Change one byte of the compressed image, away from any 0xFF marker, so the JPEG still parses.
    scan = data.rfind(b"\xff\xda")
    index = scan + 2 + int.from_bytes(data[scan + 2:scan + 4], "big") + 4
    while 0xFF in (data[index - 1], data[index], data[index] ^ 1):
        index += 1
    data[index] ^= 1
    path = write(tmp_path / "altered.jpg", bytes(data))

    manifest = extract_metadata(path, media_type="image/jpeg")["c2pa"]
    assert "assertion.dataHash.mismatch" in manifest["validation_status"]
    assert manifest["validation_state"] == "Invalid"


def test_a_remote_manifest_is_named_but_never_fetched(tmp_path, credentials, listener):
    url = f"{listener.url}/manifests/rally.c2pa"
    path = write(tmp_path / "rally.jpg", sign_jpeg(make_image(), credentials, remote_url=url))
    metadata = extract_metadata(path, media_type="image/jpeg")
    assert metadata == {"c2pa": {"remote_manifest_url": url}}
    assert listener.requests == []


def test_c2pa_left_to_its_defaults_would_fetch(credentials):
    """The control for the two tests above: the listener does hear c2pa when fetching is on."""
    server = Listener()
    try:
        url = f"{server.url}/manifests/rally.c2pa"
        signed = sign_jpeg(make_image(), credentials, remote_url=url)
        with pytest.raises(c2pa.C2paError):  # the listener answers 404
            c2pa.Reader("image/jpeg", io.BytesIO(signed))  # no Context: c2pa's default settings
        assert server.requests == [("GET", "/manifests/rally.c2pa")]
    finally:
        server.close()


def test_extraction_leaves_the_file_unchanged(tmp_path, credentials):
    paths = [write(tmp_path / "photo.jpg", make_image(exif=make_exif())),
             write(tmp_path / "signed.jpg", sign_jpeg(make_image(exif=make_exif()), credentials)),
             write(tmp_path / "broken.jpg", make_image(exif=make_exif())[:300])]
    before = [fingerprint(path) for path in paths]
    for path in paths:
        assert extract_metadata(path, media_type="image/jpeg")
    assert [fingerprint(path) for path in paths] == before


def test_lists_are_text_not_whatever_their_first_word_resembles():
    # puremagic knows "record" at offset 0 as a Modelica model; a victim list starting "record_id" is not one.
    csv_head = "record_id,given_name,family_name\nNGO-1,قاسم,صادقی\nNGO-2,علی,کریمی\n".encode()
    assert detect_media_type(csv_head, name="list.csv") == "text/csv"
    assert detect_media_type(b"record\tname\n1\ta\n2\tb\n") == "text/tab-separated-values"
    assert detect_media_type(b"model answer, in prose.\nNothing tabular here at all\n") == "text/plain"
