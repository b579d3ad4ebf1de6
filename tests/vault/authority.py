"""A local time-stamping authority for the tests: OpenSSL's ``openssl ts -reply`` behind a small HTTP
handler on 127.0.0.1, with a throwaway root CA and a TSA certificate (timeStamping key usage,
critical) made here with ``cryptography``.

The path of the address chooses how the authority behaves, so one server plays good and lax
authorities alike:

* ``/good``: a granted token with the TSA certificate and the root (in chain order, as OpenSSL
  sends them, which DER does not allow);
* ``/leaf``: a granted token with the TSA certificate only;
* ``/sha1``: signed with SHA-1;
* ``/other``: a token for other data (the request's imprint is swapped before OpenSSL sees it);
* ``/no-nonce``: the nonce is dropped from the request, so the reply has none;
* ``/no-cert``: certReq is dropped from the request, so the reply carries no certificate;
* ``/error``: HTTP 500; ``/garbage``: 200 with bytes that are no reply; ``/huge``: 300 KiB (and
  ``/huge-undeclared``, without saying so in Content-Length);
* ``/rejection``: an RFC 3161 reply with the status *rejection*; ``/moved``: a redirect (not followed).
"""

from __future__ import annotations

import datetime
import hashlib
import http.server
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dadkhah.vault.tsa import _children, _element, _encode

OTHER_DATA = b"some other data the authority was never asked about"


@dataclass
class Authority:
    """The running authority: ``url(behaviour)``, its root (``root_pem``) and an unrelated root."""

    port: int
    root_pem: Path
    other_root_pem: Path
    name: str

    def url(self, behaviour: str = "good") -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256()))
    return certificate, key


def make_tsa_certificate(common_name: str, ca, ca_key, *, usage: bool = True):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(ca_key, hashes.SHA256()), key


def _pem(path: Path, *certificates) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return path


def _config(folder: Path, name: str, *, chain: bool, digest: str) -> Path:
    serial = folder / f"{name}.serial"
    serial.write_text("01\n")
    lines = ["[ tsa ]", "default_tsa = tsa_config", "[ tsa_config ]", f"serial = {serial}",
             "crypto_device = builtin", f"signer_cert = {folder / 'tsa.pem'}", f"signer_key = {folder / 'tsa.key'}",
             f"signer_digest = {digest}", "default_policy = 1.3.6.1.4.1.99999.1", "digests = sha256, sha384, sha512",
             "accuracy = secs:1", "ordering = yes", "tsa_name = yes", "ess_cert_id_alg = sha256"]
    if chain:
        lines.append(f"certs = {folder / 'root.pem'}")
    path = folder / f"{name}.cnf"
    path.write_text("\n".join(lines) + "\n")
    return path


def _without(request: bytes, tag: int) -> bytes:
    """The TimeStampReq without its element of ``tag`` (0x02: the nonce, 0x01: certReq)."""
    _, start, end = _element(request, 0)
    kept = [request[s:e] for t, s, _, e in _children(request, start, end)[2:] if t != tag]
    first_two = b"".join(request[s:e] for _, s, _, e in _children(request, start, end)[:2])
    return _encode(0x30, first_two + b"".join(kept))


def _other_imprint(request: bytes) -> bytes:
    """The request with the SHA-256 it asks about replaced by that of OTHER_DATA (same length)."""
    _, start, end = _element(request, 0)
    imprint = _children(request, start, end)[1]
    _, _, value, stop = _children(request, imprint[2], imprint[3])[1]
    return request[:value] + hashlib.sha256(OTHER_DATA).digest() + request[stop:]


class _Handler(http.server.BaseHTTPRequestHandler):
    configs: dict[str, Path] = {}

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        behaviour = self.path.strip("/")
        request = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if behaviour == "error":
            return self._answer(b"", status=500)
        if behaviour == "moved":
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if behaviour == "garbage":
            return self._answer(b"this is not a timestamp reply")
        if behaviour == "huge":
            return self._answer(b"\x00" * (300 * 1024))
        if behaviour == "huge-undeclared":
            return self._answer(b"\x00" * (300 * 1024), declared=False)
        if behaviour == "rejection":
            return self._answer(bytes.fromhex("30053003020102"))  # a reply: { { status rejection } }
        if behaviour == "other":
            request = _other_imprint(request)
        elif behaviour == "no-nonce":
            request = _without(request, 0x02)
        elif behaviour == "no-cert":
            request = _without(request, 0x01)
        config = self.configs.get(behaviour) or self.configs["good"]
        with tempfile.NamedTemporaryFile(suffix=".tsq") as query:
            query.write(request)
            query.flush()
            made = subprocess.run(["openssl", "ts", "-reply", "-config", str(config), "-queryfile", query.name],
                                  capture_output=True, check=False)
        if made.returncode != 0 or not made.stdout:
            return self._answer(made.stderr, status=500)
        self._answer(made.stdout)

    def _answer(self, body: bytes, *, status: int = 200, declared: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/timestamp-reply")
        if declared:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def start_authority(folder: Path):
    """Make the certificates and configurations in ``folder`` and start the server; returns
    (Authority, stop)."""
    root, root_key = make_ca("Synthetic TSA Root")
    other, _ = make_ca("Synthetic TSA Root")  # the same name, another key: a forger's root
    tsa, tsa_key = make_tsa_certificate("Synthetic TSA", root, root_key)
    _pem(folder / "root.pem", root)
    _pem(folder / "other-root.pem", other)
    _pem(folder / "tsa.pem", tsa)
    (folder / "tsa.key").write_bytes(tsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    handler = type("Handler", (_Handler,), {"configs": {
        "good": _config(folder, "good", chain=True, digest="sha256"),
        "leaf": _config(folder, "leaf", chain=False, digest="sha256"),
        "no-cert": _config(folder, "no-cert", chain=False, digest="sha256"),
        "sha1": _config(folder, "sha1", chain=False, digest="sha1"),
    }})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return Authority(server.server_address[1], folder / "root.pem", folder / "other-root.pem", "Synthetic TSA"), stop


def closed_port_url() -> str:
    """The address of an authority that is down: a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsr"
