"""New-SelfSignedCertificate's string syntaxes: ``-Subject`` and ``-TextExtension``.

Both parse into plain data here (no certificate is built), so that validate can point at
the exact character that is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID

from certspec.model import RawExtension

OID_EKU, OID_SAN, OID_BC = "2.5.29.37", "2.5.29.17", "2.5.29.19"
# extensions certspec builds itself; {hex} may not replace them
BUILT = {"2.5.29.14": "subject key identifier", "2.5.29.35": "authority key identifier",
         "2.5.29.15": "key usage (use key_usage)", OID_EKU: "EKU (use {text})",
         OID_SAN: "SAN (use {text})", OID_BC: "basic constraints (use {text})"}
_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
SUBJECT_ATTRS = {
    "CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "L": NameOID.LOCALITY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "S": NameOID.STATE_OR_PROVINCE_NAME,
    "C": NameOID.COUNTRY_NAME, "E": NameOID.EMAIL_ADDRESS, "EMAIL": NameOID.EMAIL_ADDRESS,
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS, "DC": NameOID.DOMAIN_COMPONENT, "STREET": NameOID.STREET_ADDRESS,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER, "T": NameOID.TITLE, "TITLE": NameOID.TITLE,
    "G": NameOID.GIVEN_NAME, "GN": NameOID.GIVEN_NAME, "SN": NameOID.SURNAME,
    "POSTALCODE": NameOID.POSTAL_CODE, "UID": NameOID.USER_ID,
}


class SyntaxProblem(ValueError):
    """A parse error at ``offset`` characters into the string."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


def parse_subject(text: str) -> x509.Name:
    """A subject as New-SelfSignedCertificate reads it.

    ``"CN=a, O=b"``: attributes separated by commas (spaces around them ignored; ``\\,``
    or double quotes keep a comma in a value), written most specific first as RFC 4514 and
    Windows show them. No ``=`` at all means a bare CN.
    """
    if "=" not in text:
        return x509.Name([_attribute(NameOID.COMMON_NAME, text.strip(), 0)])
    attrs = []
    for start, part in _split_dn(text):
        key, eq, value = part.partition("=")
        name = key.strip().upper()
        oid = SUBJECT_ATTRS.get(name)
        if oid is None and _OID_RE.match(name.removeprefix("OID.")):
            oid = x509.ObjectIdentifier(name.removeprefix("OID."))
        if not eq or oid is None:
            raise SyntaxProblem(f"{key.strip()!r} is not a known attribute (CN, O, OU, L, ST, C, E, DC ...)",
                                start + len(part) - len(part.lstrip()))
        value = _unquote(value.strip())
        if not value:
            raise SyntaxProblem(f"{key.strip()}= has no value", start)
        if oid == NameOID.COUNTRY_NAME and len(value) != 2:
            raise SyntaxProblem(f"C={value} must be a two-letter country code", start)
        attrs.append(_attribute(oid, value, start))
    return x509.Name(list(reversed(attrs)))  # DER order is the reverse of the written order


def _attribute(oid: x509.ObjectIdentifier, value: str, at: int) -> x509.NameAttribute:
    """A name attribute, or SyntaxProblem where X.509 refuses it (a CN over 64 characters...)."""
    if oid == NameOID.COMMON_NAME and len(value) > 64:
        raise SyntaxProblem(f"the CN is {len(value)} characters; X.509 allows at most 64 "
                            "(a longer DNS name belongs in dns_names with a shorter subject)", at)
    try:
        return x509.NameAttribute(oid, value)
    except ValueError as e:
        raise SyntaxProblem(str(e), at) from None


_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_DNS_RE = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*\.?$")
_EMAIL_RE = re.compile(r"^[\x21-\x3f\x41-\x7e]+@[A-Za-z0-9_.-]+$")


def dns_problem(name: str) -> str | None:
    """Why ``name`` cannot be a SAN DNS name, or None. Unicode names need their A-label."""
    if not name.isascii():
        try:
            return f"{name!r} is not ASCII; write its IDNA A-label {name.encode('idna').decode()!r}"
        except UnicodeError:
            return f"{name!r} is not ASCII and has no IDNA form"
    if len(name) > 253 or not _DNS_RE.match(name):
        return f"{name!r} is not a DNS name (letters, digits, '-', dots; '*.' only in front)"
    return None


def email_problem(address: str) -> str | None:
    if not _EMAIL_RE.match(address):
        return f"{address!r} is not an ASCII e-mail address"
    return None


def _split_dn(text: str) -> list[tuple[int, str]]:
    parts, start, quoted, escaped = [], 0, False, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append((start, text[start:i]))
            start = i + 1
    parts.append((start, text[start:]))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return re.sub(r"\\(.)", r"\1", value)


def format_subject(name: x509.Name) -> str:
    """The subject as users write it: ``CN=a, O=b`` (Windows and RFC 4514 order)."""
    short = {v: k for k, v in reversed(list(SUBJECT_ATTRS.items()))}
    parts = []
    for attr in reversed(list(name)):
        key = short.get(attr.oid, attr.oid.dotted_string)
        value = str(attr.value)
        if any(c in value for c in ',+"\\<>;') or value != value.strip():
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{key}={value}")
    return ", ".join(parts)


@dataclass
class TextExtensions:
    """What a certificate's ``text_extensions`` add up to."""

    eku: tuple[str, ...] | None = None
    eku_critical: bool = False
    san: dict[str, list[str]] = field(default_factory=lambda: {"dns_names": [], "ip_addresses": [],
                                                               "upns": [], "emails": []})
    san_critical: bool = False
    basic_constraints: tuple[bool, int | None] | None = None
    raw: list[RawExtension] = field(default_factory=list)


_SAN_KEYS = {"dns": "dns_names", "ipaddress": "ip_addresses", "upn": "upns", "email": "emails"}


def parse_text_extension(text: str, into: TextExtensions) -> None:
    """Parse one ``OID={critical}{text}value`` string into ``into``; SyntaxProblem if wrong."""
    oid, eq, rest = text.partition("=")
    if not eq:
        raise SyntaxProblem("expected OID={text}value or OID={hex}bytes")
    oid = oid.strip()
    if not _OID_RE.match(oid):
        raise SyntaxProblem(f"{oid!r} is not a dotted OID")
    at = len(text) - len(rest)
    critical = rest.startswith("{critical}")
    if critical:
        rest, at = rest[len("{critical}"):], at + len("{critical}")
    if rest.startswith("{text}"):
        _text_value(oid, rest[6:], at + 6, critical, into)
    elif rest.startswith("{hex}"):
        if oid in BUILT:
            raise SyntaxProblem(f"{{hex}} cannot replace the {BUILT[oid]} that certspec builds", 0)
        digits = re.sub(r"[\s:]", "", rest[5:])
        try:
            value = bytes.fromhex(digits)
        except ValueError:
            raise SyntaxProblem("{hex} takes hexadecimal bytes", at + 5) from None
        if not _is_der(value):
            raise SyntaxProblem("{hex} bytes are not one complete DER value", at + 5)
        into.raw.append(RawExtension(oid, critical, value))
    else:
        raise SyntaxProblem("expected {text}, {hex} or {critical} after '='", at)


def _text_value(oid: str, value: str, at: int, critical: bool, into: TextExtensions) -> None:
    if oid == OID_EKU:
        oids = [p.strip() for p in value.split(",")]
        pos = at
        for part in value.split(","):
            if not _OID_RE.match(part.strip()):
                raise SyntaxProblem(f"{part.strip()!r} is not a dotted OID", pos)
            pos += len(part) + 1
        into.eku, into.eku_critical = tuple(oids), critical
    elif oid == OID_SAN:
        into.san_critical = critical
        pos = at
        for part in value.split("&"):
            key, eq, item = part.partition("=")
            field_name = _SAN_KEYS.get(key.strip().lower())
            if not eq or not field_name or not item.strip():
                raise SyntaxProblem(f"{part!r} is not DNS=, IPAddress=, UPN= or Email= with a value", pos)
            if field_name == "ip_addresses":
                try:
                    ipaddress.ip_address(item.strip())
                except ValueError:
                    raise SyntaxProblem(f"{item.strip()!r} is not an IP address", pos + len(key) + 1) from None
            why = {"dns_names": dns_problem, "emails": email_problem}.get(field_name, lambda _: None)(item.strip())
            if why:
                raise SyntaxProblem(why, pos + len(key) + 1)
            into.san[field_name].append(item.strip())
            pos += len(part) + 1
    elif oid == OID_BC:
        into.basic_constraints = _basic_constraints(value, at)
    else:
        raise SyntaxProblem(
            f"{{text}} is supported for {OID_EKU} (EKU), {OID_SAN} (SAN) and {OID_BC} "
            f"(basic constraints); use {{hex}} for {oid}", 0)


def _basic_constraints(value: str, at: int) -> tuple[bool, int | None]:
    ca, pathlen, pos = False, None, at
    for part in value.split("&"):
        key, _, item = part.partition("=")
        k, v = key.strip().lower(), item.strip().lower()
        if k == "ca" and v in ("true", "false"):
            ca = v == "true"
        elif k == "pathlength" and v.isdigit():
            pathlen = int(v)
        else:
            raise SyntaxProblem(f"{part!r} is not CA=true|false or pathlength=N", pos)
        pos += len(part) + 1
    if pathlen is not None and not ca:
        raise SyntaxProblem("pathlength needs CA=true", at)
    return ca, pathlen


def _is_der(data: bytes) -> bool:
    """True when ``data`` is exactly one DER TLV (tag, definite length, content)."""
    if len(data) < 2:
        return False
    length, i = data[1], 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or len(data) < 2 + n:
            return False
        length, i = int.from_bytes(data[2:2 + n], "big"), 2 + n
    return i + length == len(data)
