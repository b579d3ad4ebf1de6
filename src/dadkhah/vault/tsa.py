"""RFC 3161 trusted timestamps: asking a time-stamping authority (TSA) for a token over some bytes,
and checking a token later. The one module that imports ``rfc3161-client``.

A token is the authority's signed statement that a SHA-256 digest existed at its time. What is
checked, on receipt and again whenever a stored token is verified:

* the reply is an RFC 3161 reply with the status *granted* (nothing else is accepted, not even
  *granted with modifications*);
* its message imprint is SHA-256 and equals the digest of the bytes asked about (a token for other
  data, or one using SHA-1, is refused);
* on receipt, the nonce Dadkhah sent comes back unchanged (RFC 3161 requires an authority to echo
  it; a reply without it cannot be told from a replayed one and is refused);
* the token carries the authority's certificate (Dadkhah always asks for it; a token without one
  cannot be checked and is refused), that certificate names the time-stamping extended key usage,
  marked critical, and was valid at the token's time;
* the token's signature verifies with that certificate's key (SHA-256 or stronger; SHA-1 and
  RSASSA-PSS are refused here), which shows the token is whole and was made with that key;
* with trusted roots at hand (a recipient's ``tsa_root``), ``rfc3161-client`` also checks that the
  certificate chains to one of them at the token's time (OpenSSL's chain building, the token's own
  certificates as intermediates). Without one, nothing says *who* holds that key: the report
  says so.

Tokens are kept exactly as the authority sent them. A token's certificates are a DER ``SET OF``;
OpenSSL-based authorities send them in chain order, which DER does not allow and
``rfc3161-client`` refuses to parse. The certificates are not covered by the signature, so before
parsing they are put in DER order in memory (:func:`_in_der_order`); the stored bytes are not changed.

Asking an authority is a network request: the authority (and anyone watching the network) learns
that this machine asked for a timestamp at that moment, and the digest, which reveals nothing of
the content. ``urllib`` honours the ``https_proxy`` and ``http_proxy`` environment variables.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from dadkhah.errors import DadkhahError, InputError

TIMEOUT_SECONDS = 20.0  # the whole exchange with one authority, connection included
MAX_REPLY_BYTES = 256 * 1024  # a token with a long certificate chain is a few kilobytes
SHA256_OID = "2.16.840.1.101.3.4.2.1"
_SIGNED_DATA = "1.2.840.113549.1.7.2"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_DIGESTS = {SHA256_OID: hashes.SHA256, "2.16.840.1.101.3.4.2.2": hashes.SHA384,
            "2.16.840.1.101.3.4.2.3": hashes.SHA512}
_SHA1 = {"1.3.14.3.2.26", "1.2.840.113549.1.1.5", "1.2.840.10045.4.1"}
_SIGNATURES = {  # signature algorithm: (key type, hash; None: the SignerInfo's digest algorithm)
    "1.2.840.113549.1.1.1": ("rsa", None), "1.2.840.113549.1.1.11": ("rsa", hashes.SHA256),
    "1.2.840.113549.1.1.12": ("rsa", hashes.SHA384), "1.2.840.113549.1.1.13": ("rsa", hashes.SHA512),
    "1.2.840.10045.2.1": ("ecdsa", None), "1.2.840.10045.4.3.2": ("ecdsa", hashes.SHA256),
    "1.2.840.10045.4.3.3": ("ecdsa", hashes.SHA384), "1.2.840.10045.4.3.4": ("ecdsa", hashes.SHA512),
    "1.3.101.112": ("ed25519", None),
}


class AuthorityError(DadkhahError):
    """A time-stamping authority could not be reached, or answered with something that is not a
    good token for what was asked. Nothing is recorded from it."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"the time-stamping authority {url} {reason}")
        self.url = url
        self.reason = reason


# ----- asking ------------------------------------------------------------------------------------


def check_url(url: str) -> str:
    """The authority's address, if it is an http or https URL (nothing else is ever opened)."""
    url = (url or "").strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AuthorityError(url or "''", "is not an http:// or https:// address")
    return url


def request_timestamp(url: str, data: bytes, *, timeout: float = TIMEOUT_SECONDS,
                      max_bytes: int = MAX_REPLY_BYTES) -> dict:
    """Ask the authority at ``url`` for a token over ``data`` (its SHA-256 is sent, never the data),
    check the reply, and return what is kept of it (:func:`token_entry`)."""
    url = check_url(url)
    request = TimestampRequestBuilder(data=data, hash_algorithm=HashAlgorithm.SHA256, nonce=True,
                                      cert_req=True).build()
    reply = _post(url, request.as_bytes(), timeout=timeout, max_bytes=max_bytes)
    try:
        response = decode_timestamp_response(_in_der_order(reply, response=True))
    except ValueError as exc:
        raise AuthorityError(url, f"answered with something that is not an RFC 3161 reply ({_short(exc)})") from None
    if response.status != PKIStatus.GRANTED:
        said = "; ".join(response.status_string) or "no reason given"
        raise AuthorityError(url, f"did not grant the timestamp (status {_status_name(response.status)}: {said})")
    try:
        token = _token_of(reply)
    except ValueError as exc:
        raise AuthorityError(url, f"answered with a reply Dadkhah cannot read ({_short(exc)})") from None
    checked = check_token(token, hashlib.sha256(data).digest(), nonce=request.nonce)
    if checked["problems"]:
        raise AuthorityError(url, "answered with a token Dadkhah refuses: " + "; ".join(checked["problems"]))
    return token_entry(url, token, checked, nonce=request.nonce)


def token_entry(url: str, token: bytes, checked: dict, *, nonce: int | None = None) -> dict:
    """What is kept of a token: the authority asked, who signed, when, and the token itself (DER,
    base64) with the certificates it carries (DER, base64), so it can be checked again anywhere."""
    entry = {"authority": url, "tsa": checked["tsa"], "name": checked["name"], "time": checked["time"],
             "serial": checked["serial"], "policy": checked["policy"],
             "token": base64.b64encode(token).decode("ascii"),
             "certificates": checked["certificates"]}
    if nonce is not None:
        entry["nonce"] = str(nonce)
    return entry


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, not followed (it would turn the request into a GET, or lead elsewhere)."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, *, timeout: float, max_bytes: int) -> bytes:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply",
        "User-Agent": "dadkhah"})
    deadline = time.monotonic() + timeout
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            if answer.status != 200:
                raise AuthorityError(url, f"answered HTTP {answer.status}")
            declared = answer.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise AuthorityError(url, f"answered with {int(declared):,} bytes: more than the {max_bytes:,} "
                                          "bytes a timestamp reply may have")
            chunks, size = [], 0
            while chunk := answer.read(16384):
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise AuthorityError(url, f"answered with more than the {max_bytes:,} bytes a timestamp "
                                              "reply may have")
                if time.monotonic() > deadline:
                    raise AuthorityError(url, f"did not finish answering within {timeout:g} seconds")
    except urllib.error.HTTPError as exc:
        moved = f", to {exc.headers.get('Location')}: give that address instead" if 300 <= exc.code < 400 else ""
        raise AuthorityError(url, f"answered HTTP {exc.code} ({exc.reason}){moved}") from None
    except urllib.error.URLError as exc:
        raise AuthorityError(url, f"could not be reached ({_short(exc.reason)})") from None
    except TimeoutError:
        raise AuthorityError(url, f"did not answer within {timeout:g} seconds") from None
    except OSError as exc:
        raise AuthorityError(url, f"could not be reached ({_short(exc)})") from None
    if not chunks:
        raise AuthorityError(url, "answered with nothing")
    return b"".join(chunks)


def _status_name(status: int) -> str:
    try:
        return PKIStatus(status).name.lower().replace("_", " ")
    except ValueError:
        return str(status)


def _short(exc) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


# ----- checking ----------------------------------------------------------------------------------


def check_token(token: bytes, digest: bytes, *, roots: list[x509.Certificate] | None = None,
                nonce: int | None = None) -> dict:
    """Everything wrong with ``token`` as a timestamp of ``digest`` (a SHA-256), and what it says.

    Returns ``{"time", "tsa", "name", "serial", "policy", "certificates", "root_checked",
    "problems"}``; ``problems`` is empty when the token is good. With ``roots``, the signing
    certificate must also chain to one of them (``root_checked`` then says it did).
    """
    found = {"time": None, "tsa": None, "name": None, "serial": None, "policy": None, "certificates": [],
             "root_checked": False, "problems": []}
    problems = found["problems"]
    try:
        response = decode_timestamp_response(_as_response(_in_der_order(token)))
        info = response.tst_info
        certificates = [x509.load_der_x509_certificate(c) for c in response.signed_data.certificates]
        signers = list(response.signed_data.signer_infos)
    except ValueError as exc:
        problems.append(f"it is not an RFC 3161 token ({_short(exc)})")
        return found
    found |= {"time": info.gen_time.isoformat(), "serial": format(info.serial_number, "#x"),
              "policy": info.policy.dotted_string,
              "certificates": [base64.b64encode(c).decode("ascii") for c in _certificate_bytes(token)]}
    imprint = info.message_imprint
    if imprint.hash_algorithm.dotted_string != SHA256_OID:
        name = "SHA-1" if imprint.hash_algorithm.dotted_string in _SHA1 else imprint.hash_algorithm.dotted_string
        problems.append(f"its imprint is made with {name}, not SHA-256")
    elif imprint.message != digest:
        problems.append("it is a timestamp of other data: its imprint is not the SHA-256 of what it should cover")
    if nonce is not None and info.nonce != nonce:
        problems.append("it does not carry the nonce that was sent" if info.nonce is None
                        else "its nonce is not the one that was sent (a replayed or mixed-up answer)")
    if len(signers) != 1:
        problems.append(f"it has {len(signers)} signers, not one")
        return found
    signer = next((c for c in certificates if c.issuer == signers[0].issuer
                   and c.serial_number == signers[0].serial_number), None)
    if signer is None:
        problems.append("it carries no certificate of the authority that signed it, so its signature cannot be "
                        "checked (Dadkhah asks for the certificate and refuses tokens without it)")
        return found
    found["tsa"] = signer.subject.rfc4514_string()
    names = signer.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    found["name"] = str(names[0].value) if names else found["tsa"]
    problems.extend(_certificate_problems(signer, info.gen_time))
    problem = _signature_problem(token, signer)
    if problem:
        problems.append(problem)
    if roots and not problems:
        verifier = VerifierBuilder()
        for root in roots:
            verifier = verifier.add_root_certificate(root)
        try:
            verifier.build().verify(response, digest)
            found["root_checked"] = True
        except VerificationError as exc:
            said = re.search(r'data: "(?:Verify error: )?([^"]+)"', str(exc))
            problems.append("its certificate does not chain to the trusted root given "
                            f"({said.group(1) if said else _short(exc)})")
    return found


def _certificate_problems(signer: x509.Certificate, when: datetime) -> list[str]:
    problems = []
    try:
        usage = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        if x509.ExtendedKeyUsageOID.TIME_STAMPING not in usage.value:
            problems.append("the authority's certificate is not for time-stamping (no timeStamping key usage)")
        elif not usage.critical:
            problems.append("the authority's certificate does not mark its time-stamping key usage critical")
    except x509.ExtensionNotFound:
        problems.append("the authority's certificate is not for time-stamping (no extended key usage)")
    if not signer.not_valid_before_utc <= when <= signer.not_valid_after_utc:
        problems.append("the authority's certificate was not valid at the token's time")
    return problems


def _signature_problem(token: bytes, signer: x509.Certificate) -> str | None:
    """Whether the token's signature verifies with ``signer``'s key (RFC 5652 §5.4: the signed
    attributes, as a DER SET, carry the digest of the TSTInfo)."""
    try:
        parts = _signed_data(token)
        content, info = parts["content"], parts["signer"]
        digest_oid = _oid_of(token, info["digest_algorithm"])
        signature_oid = _oid_of(token, info["signature_algorithm"])
        if digest_oid in _SHA1 or signature_oid in _SHA1:
            return "it is signed with SHA-1, which no longer protects a signature: refused"
        if digest_oid not in _DIGESTS:
            return f"it is signed with a digest Dadkhah does not check ({digest_oid})"
        if signature_oid not in _SIGNATURES:
            return f"it is signed with an algorithm Dadkhah does not check ({signature_oid})"
        attributes = _attributes(token, info["signed_attributes"])
        if attributes.get(_CONTENT_TYPE) != _TST_INFO:
            return "its signed attributes do not say the content is a timestamp"
        digest = hashes.Hash(_DIGESTS[digest_oid]())
        digest.update(content)
        if attributes.get(_MESSAGE_DIGEST) != digest.finalize():
            return "its content does not match what was signed: the token was altered"
        start, end = info["signed_attributes"]
        signed = b"\x31" + token[start + 1:end]  # signed as a SET (RFC 5652 §5.4), kept as [0] IMPLICIT
        kind, hash_class = _SIGNATURES[signature_oid]
        algorithm = (hash_class or _DIGESTS[digest_oid])()
        key = signer.public_key()
        signature = info["signature"]
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), algorithm)
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(algorithm))
        elif kind == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signed)
        else:
            return "its signature's algorithm does not fit the authority's key"
    except InvalidSignature:
        return "its signature does not verify with the authority's certificate: the token was altered or forged"
    except (ValueError, KeyError, IndexError, UnsupportedAlgorithm) as exc:
        return f"its signature could not be read ({_short(exc)})"
    return None


def load_roots(path: str | Path) -> list[x509.Certificate]:
    """The trusted roots in a PEM file (one or more certificates) or a DER certificate."""
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", file=where, field="tsa_root") from None
    try:
        roots = x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data else [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise InputError("holds no certificate (PEM or DER)", file=where, field="tsa_root") from None
    return roots


# ----- the DER around a token --------------------------------------------------------------------
# Only what the checks above need: finding elements by position, and re-wrapping.


def _element(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, where the value starts, where it ends) of the DER element at ``at``."""
    if at + 2 > len(data):
        raise ValueError("truncated")
    tag, length = data[at], data[at + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("unexpected high tag number")
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError("not DER (indefinite or oversized length)")
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("truncated")
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The elements inside ``data[start:end]``: (tag, start of the element, start of its value, end)."""
    found, at = [], start
    while at < end:
        tag, value, stop = _element(data, at)
        if stop > end:
            raise ValueError("an element runs past its parent")
        found.append((tag, at, value, stop))
        at = stop
    return found


def _encode(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _oid(value: bytes) -> str:
    arcs, number = [], 0
    for byte in value:
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(number)
            number = 0
    if not arcs:
        raise ValueError("an empty object identifier")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))


def _oid_of(data: bytes, span: tuple[int, int]) -> str:
    """The algorithm of an AlgorithmIdentifier (its first element)."""
    tag, _, value, end = _children(data, *span)[0]
    if tag != 0x06:
        raise ValueError("an algorithm without an identifier")
    return _oid(data[value:end])


def _as_response(token: bytes) -> bytes:
    """A granted reply around a stored token (``rfc3161-client`` parses replies, not bare tokens)."""
    return _encode(0x30, _encode(0x30, b"\x02\x01\x00") + token)


def _token_of(reply: bytes) -> bytes:
    """The token inside a reply, as the authority sent it."""
    tag, start, end = _element(reply, 0)
    parts = _children(reply, start, end)
    if tag != 0x30 or len(parts) < 2:
        raise ValueError("a reply without a token")
    return reply[parts[1][1]:parts[1][3]]


def _signed_data_span(token: bytes) -> tuple[list, tuple[int, int, int, int]]:
    tag, start, end = _element(token, 0)
    if tag != 0x30 or end != len(token):
        raise ValueError("a token is one DER sequence")
    outer = _children(token, start, end)
    if len(outer) != 2 or outer[0][0] != 0x06 or _oid(token[outer[0][2]:outer[0][3]]) != _SIGNED_DATA \
            or outer[1][0] != 0xA0:
        raise ValueError("a token is CMS signed data")
    inner = _children(token, outer[1][2], outer[1][3])
    if len(inner) != 1 or inner[0][0] != 0x30:
        raise ValueError("a token is CMS signed data")
    return outer, inner[0]


def _signed_data(token: bytes) -> dict:
    """The TSTInfo's bytes and the one signer's parts."""
    _, signed_data = _signed_data_span(token)
    parts = _children(token, signed_data[2], signed_data[3])
    encapsulated = next(p for p in parts[1:] if p[0] == 0x30)
    content_type, wrapped = _children(token, encapsulated[2], encapsulated[3])[:2]
    if _oid(token[content_type[2]:content_type[3]]) != _TST_INFO or wrapped[0] != 0xA0:
        raise ValueError("the signed content is not a TSTInfo")
    [octets] = _children(token, wrapped[2], wrapped[3])
    if octets[0] != 0x04:
        raise ValueError("the signed content is not an octet string")
    if parts[-1][0] != 0x31:
        raise ValueError("no signer infos")
    signers = _children(token, parts[-1][2], parts[-1][3])
    if len(signers) != 1:
        raise ValueError(f"{len(signers)} signers, not one")
    fields = _children(token, signers[0][2], signers[0][3])
    if len(fields) < 6 or fields[3][0] != 0xA0:
        raise ValueError("a signer without signed attributes")
    signature = fields[5]
    if signature[0] != 0x04:
        raise ValueError("a signer without a signature")
    return {"content": token[octets[2]:octets[3]],
            "signer": {"digest_algorithm": (fields[2][2], fields[2][3]),
                       "signed_attributes": (fields[3][1], fields[3][3]),
                       "signature_algorithm": (fields[4][2], fields[4][3]),
                       "signature": token[signature[2]:signature[3]]}}


def _attributes(token: bytes, span: tuple[int, int]) -> dict[str, object]:
    """The content type (an OID) and message digest (bytes) among the signed attributes."""
    _, value, end = _element(token, span[0])
    found: dict[str, object] = {}
    for _, _, start, stop in _children(token, value, end):
        kind, values = _children(token, start, stop)[:2]
        oid = _oid(token[kind[2]:kind[3]])
        inside = _children(token, values[2], values[3])
        if len(inside) != 1:
            continue
        tag, _, first, last = inside[0]
        if oid == _CONTENT_TYPE and tag == 0x06:
            found[oid] = _oid(token[first:last])
        elif oid == _MESSAGE_DIGEST and tag == 0x04:
            found[oid] = token[first:last]
    return found


def _certificate_bytes(token: bytes) -> list[bytes]:
    """The certificates a token carries, in the order the authority sent them."""
    _, signed_data = _signed_data_span(token)
    parts = _children(token, signed_data[2], signed_data[3])
    found = next((p for p in parts if p[0] == 0xA0), None)
    if found is None:
        return []
    return [token[start:stop] for _, start, _, stop in _children(token, found[2], found[3])]


def _in_der_order(data: bytes, *, response: bool = False) -> bytes:
    """``data`` (a token, or with ``response`` a reply) with its certificates in DER's SET OF order."""
    if response:
        tag, start, end = _element(data, 0)
        parts = _children(data, start, end) if tag == 0x30 else []
        if len(parts) < 2:
            return data  # a reply without a token (a refusal): nothing to order
        token = data[parts[1][1]:parts[1][3]]
        ordered = _in_der_order(token)
        if ordered == token:
            return data
        return _encode(0x30, data[parts[0][1]:parts[0][3]] + ordered + data[parts[1][3]:end])
    outer, signed_data = _signed_data_span(data)
    parts = _children(data, signed_data[2], signed_data[3])
    certificates = [p for p in parts if p[0] == 0xA0]
    if not certificates:
        return data
    _, _, value, stop = certificates[0]
    elements = [data[s:e] for _, s, _, e in _children(data, value, stop)]
    if elements == sorted(elements):
        return data
    body = b"".join(_encode(0xA0, b"".join(sorted(elements))) if p[0] == 0xA0 else data[p[1]:p[3]] for p in parts)
    return _encode(0x30, data[outer[0][1]:outer[0][3]] + _encode(0xA0, _encode(0x30, body)))
