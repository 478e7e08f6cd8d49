"""A small, independent PKCS#12 (RFC 7292) reader.

Two jobs that ``cryptography`` does not do:
- name what a PFX is encrypted with (``read``, no password needed): exactly what decides
  whether Windows Server 2016 or Azure App Service will import it;
- open a PFX for the verify-after-write check (``open_pfx``) without the RSA private-key
  self-test that ``pkcs12.load_pkcs12`` always runs, which costs as much as generating
  the key. The MAC is verified and both kinds of bag are decrypted, so a PFX that passes
  here is whole; and being a second implementation, it checks the writer independently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OIDS = {
    "1.2.840.113549.1.12.1.3": "pbeWithSHAAnd3-KeyTripleDES-CBC",
    "1.2.840.113549.1.12.1.6": "pbeWithSHAAnd40BitRC2-CBC",
    "1.2.840.113549.1.12.1.5": "pbeWithSHAAnd128BitRC2-CBC",
    "1.2.840.113549.1.12.1.1": "pbeWithSHAAnd128BitRC4",
    "1.2.840.113549.1.5.13": "PBES2",
    "2.16.840.1.101.3.4.1.42": "AES-256-CBC",
    "2.16.840.1.101.3.4.1.2": "AES-128-CBC",
    "1.3.14.3.2.26": "SHA-1",
    "2.16.840.1.101.3.4.2.1": "SHA-256",
    "2.16.840.1.101.3.4.2.2": "SHA-384",
    "2.16.840.1.101.3.4.2.3": "SHA-512",
    "1.2.840.113549.2.9": "HMAC-SHA-256",
    "1.2.840.113549.2.7": "HMAC-SHA-1",
}
DATA, ENCRYPTED_DATA = "1.2.840.113549.1.7.1", "1.2.840.113549.1.7.6"
KEY_BAG, SHROUDED_KEY_BAG, CERT_BAG = ("1.2.840.113549.1.12.10.1.1", "1.2.840.113549.1.12.10.1.2",
                                      "1.2.840.113549.1.12.10.1.3")


class DerError(ValueError):
    pass


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at ``pos``."""
    if pos + 2 > len(data):
        raise DerError("truncated")
    tag, length, i = data[pos], data[pos + 1], pos + 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4:
            raise DerError("unsupported length")
        length, i = int.from_bytes(data[i:i + n], "big"), i + n
    if i + length > len(data):
        raise DerError("truncated")
    return tag, i, i + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out, pos = [], start
    while pos < end:
        tag, s, e = _tlv(data, pos)
        out.append((tag, s, e))
        pos = e
    return out


def _oid(data: bytes, s: int, e: int) -> str:
    raw = data[s:e]
    parts = [raw[0] // 40, raw[0] % 40] if raw[0] < 80 else [2, raw[0] - 80]
    value = 0
    for b in raw[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _name(oid: str) -> str:
    return OIDS.get(oid, oid)


def _algorithm(data: bytes, s: int, e: int) -> str:
    """A readable name for an AlgorithmIdentifier, PBES2's inner cipher and PRF included."""
    kids = _children(data, s, e)
    oid = _oid(data, kids[0][1], kids[0][2])
    if _name(oid) != "PBES2" or len(kids) < 2:
        return _name(oid)
    kdf, scheme = _children(data, kids[1][1], kids[1][2])[:2]
    cipher = _children(data, scheme[1], scheme[2])[0]
    kdf_params = _children(data, *_children(data, kdf[1], kdf[2])[1][1:])
    prf = "HMAC-SHA-1"
    for tag, ps, pe in kdf_params:
        if tag == 0x30:
            prf = _name(_oid(data, *_children(data, ps, pe)[0][1:]))
    return f"PBES2 ({_name(_oid(data, cipher[1], cipher[2]))}, PBKDF2 {prf})"


@dataclass
class PfxInfo:
    cert_encryption: list[str] = field(default_factory=list)
    key_encryption: list[str] = field(default_factory=list)
    mac: str | None = None
    mac_iterations: int | None = None

    def verdicts(self) -> dict[str, str]:
        algos = set(self.cert_encryption + self.key_encryption)
        legacy_only = algos <= {"pbeWithSHAAnd3-KeyTripleDES-CBC", "unencrypted"}
        win = "yes" if legacy_only and self.mac in ("SHA-1", None) else \
            "no: PBES2/AES or a SHA-2 MAC fails with 'The specified network password is not correct'"
        if any("RC2" in a or "RC4" in a for a in algos):
            win = "yes, but RC2/RC4 is weak and OpenSSL 3 refuses it without -legacy"
        azure = "yes" if legacy_only and self.mac == "SHA-1" else "no: App Service needs Triple-DES with a password"
        return {"windows_server_2016": win, "azure_app_service": azure}


def read(data: bytes) -> PfxInfo:
    """Walk the PFX; DerError if it is not one."""
    try:
        info = PfxInfo()
        _, s, e = _tlv(data, 0)
        top = _children(data, s, e)
        auth = _children(data, top[1][1], top[1][2])  # ContentInfo: oid, [0]
        octets = _children(data, auth[1][1], auth[1][2])[0]
        for _, cs, ce in _children(data, *_children(data, octets[1], octets[2])[0][1:]):
            kids = _children(data, cs, ce)
            ctype = _oid(data, kids[0][1], kids[0][2])
            inner = _children(data, kids[1][1], kids[1][2])[0]
            if ctype == ENCRYPTED_DATA:
                eci = _children(data, inner[1], inner[2])[1]
                alg = _children(data, eci[1], eci[2])[1]
                info.cert_encryption.append(_algorithm(data, alg[1], alg[2]))
            elif ctype == DATA:  # plain SafeContents: a shrouded key bag still carries its own encryption
                for _, bs, be in _children(data, *_children(data, inner[1], inner[2])[0][1:]):
                    bag = _children(data, bs, be)
                    bag_type = _oid(data, bag[0][1], bag[0][2])
                    if bag_type == SHROUDED_KEY_BAG:
                        epki = _children(data, bag[1][1], bag[1][2])[0]
                        alg = _children(data, epki[1], epki[2])[0]
                        info.key_encryption.append(_algorithm(data, alg[1], alg[2]))
                    elif bag_type == KEY_BAG:
                        info.key_encryption.append("unencrypted")
                    elif bag_type == CERT_BAG:
                        info.cert_encryption.append("unencrypted")
        if len(top) > 2:
            mac = _children(data, top[2][1], top[2][2])
            digest_alg = _children(data, *_children(data, mac[0][1], mac[0][2])[0][1:])[0]
            info.mac = _name(_oid(data, digest_alg[1], digest_alg[2]))
            if len(mac) > 2:
                info.mac_iterations = int.from_bytes(data[mac[2][1]:mac[2][2]], "big")
        return info
    except (IndexError, DerError) as e:
        raise DerError(f"not a PKCS#12 file ({e or 'unexpected structure'})") from None


# ---- opening a PFX (verify after write) ---------------------------------------------------
PBES1_3DES, PBES2_OID, PBKDF2_OID = "1.2.840.113549.1.12.1.3", "1.2.840.113549.1.5.13", "1.2.840.113549.1.5.12"
AES_CBC = {"2.16.840.1.101.3.4.1.42": 32, "2.16.840.1.101.3.4.1.2": 16}
DIGESTS = {"1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
           "2.16.840.1.101.3.4.2.3": "sha512"}
PRFS = {"1.2.840.113549.2.7": "sha1", "1.2.840.113549.2.9": "sha256", "1.2.840.113549.2.10": "sha384",
        "1.2.840.113549.2.11": "sha512"}


def _pkcs12_kdf(password: bytes, salt: bytes, purpose: int, rounds: int, size: int, digest: str) -> bytes:
    """RFC 7292 appendix B.2 (purpose 1: key, 2: IV, 3: MAC key)."""
    import hashlib

    h = getattr(hashlib, digest)
    u, v = h().digest_size, h().block_size
    pw = (password.decode("utf-8").encode("utf-16-be") + b"\x00\x00") if password else b""
    block = _fill(salt, v) + _fill(pw, v)
    out = b""
    while len(out) < size:
        a = h(bytes([purpose]) * v + block).digest()
        for _ in range(rounds - 1):
            a = h(a).digest()
        out += a
        b = int.from_bytes((a * (v // u + 1))[:v], "big") + 1
        block = b"".join(((int.from_bytes(block[i:i + v], "big") + b) % (1 << (8 * v))).to_bytes(v, "big")
                         for i in range(0, len(block), v))
    return out[:size]


def _fill(data: bytes, v: int) -> bytes:
    """``data`` repeated to the next multiple of ``v`` bytes (empty stays empty)."""
    if not data:
        return b""
    size = v * -(-len(data) // v)
    return (data * (size // len(data) + 1))[:size]


def _int(data: bytes, tlv: tuple[int, int, int]) -> int:
    return int.from_bytes(data[tlv[1]:tlv[2]], "big")


def _decrypt(data: bytes, alg: tuple[int, int, int], blob: bytes, password: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    kids = _children(data, alg[1], alg[2])
    oid = _oid(data, kids[0][1], kids[0][2])
    if oid == PBES1_3DES:
        salt, rounds = _children(data, kids[1][1], kids[1][2])
        salt_b, n = data[salt[1]:salt[2]], _int(data, rounds)
        key = _pkcs12_kdf(password, salt_b, 1, n, 24, "sha1")
        iv = _pkcs12_kdf(password, salt_b, 2, n, 8, "sha1")
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

        cipher: Cipher = Cipher(TripleDES(key), modes.CBC(iv))
        block = 64
    elif oid == PBES2_OID:
        kdf, scheme = _children(data, kids[1][1], kids[1][2])[:2]
        params = _children(data, *_children(data, kdf[1], kdf[2])[1][1:])
        prf = "sha1"
        for tag, ps, pe in params[2:]:
            if tag == 0x30:
                prf = PRFS[_oid(data, *_children(data, ps, pe)[0][1:])]
        enc = _children(data, scheme[1], scheme[2])
        size = AES_CBC[_oid(data, enc[0][1], enc[0][2])]
        key = PBKDF2HMAC(getattr(hashes, prf.upper())(), size, data[params[0][1]:params[0][2]],
                         _int(data, params[1])).derive(password)
        cipher, block = Cipher(algorithms.AES(key), modes.CBC(data[enc[1][1]:enc[1][2]])), 128
    else:
        raise DerError(f"unsupported bag encryption {_name(oid)}")
    dec = cipher.decryptor()
    raw = dec.update(blob) + dec.finalize()
    unpad = padding.PKCS7(block).unpadder()
    try:
        return unpad.update(raw) + unpad.finalize()
    except ValueError:
        raise DerError("wrong password or damaged bag") from None


def open_pfx(data: bytes, password: bytes) -> tuple[list[bytes], bytes | None]:
    """(certificates as DER, the PKCS#8 key as DER) of a PFX; DerError unless the MAC
    checks out with ``password`` and every bag decrypts."""
    import hmac as _hmac

    try:
        _, s, e = _tlv(data, 0)
        top = _children(data, s, e)
        auth = _children(data, top[1][1], top[1][2])
        octets = _children(data, auth[1][1], auth[1][2])[0]
        content = data[octets[1]:octets[2]]
        mac = _children(data, top[2][1], top[2][2])
        digest_info = _children(data, mac[0][1], mac[0][2])
        digest = DIGESTS[_oid(data, *_children(data, *digest_info[0][1:])[0][1:])]
        rounds = _int(data, mac[2]) if len(mac) > 2 else 1
        mac_key = _pkcs12_kdf(password, data[mac[1][1]:mac[1][2]], 3, rounds,
                              __import__("hashlib").new(digest).digest_size, digest)
        if not _hmac.compare_digest(_hmac.new(mac_key, content, digest).digest(),
                                    data[digest_info[1][1]:digest_info[1][2]]):
            raise DerError("the MAC does not match: wrong password or damaged file")
        certs, key = [], None
        for _, cs, ce in _children(data, *_children(data, octets[1], octets[2])[0][1:]):
            kids = _children(data, cs, ce)
            inner = _children(data, kids[1][1], kids[1][2])[0]
            if _oid(data, kids[0][1], kids[0][2]) == ENCRYPTED_DATA:
                eci = _children(data, *_children(data, inner[1], inner[2])[1][1:])
                safe = _decrypt(data, eci[1], data[eci[2][1]:eci[2][2]], password)
            else:
                safe = data[inner[1]:inner[2]]
            for _, bs, be in _children(safe, *_tlv(safe, 0)[1:]):
                bag = _children(safe, bs, be)
                kind, value = _oid(safe, bag[0][1], bag[0][2]), _children(safe, bag[1][1], bag[1][2])[0]
                if kind == CERT_BAG:
                    cert_val = _children(safe, *_children(safe, value[1], value[2])[1][1:])[0]
                    certs.append(safe[cert_val[1]:cert_val[2]])
                elif kind == SHROUDED_KEY_BAG:
                    epki = _children(safe, value[1], value[2])
                    key = _decrypt(safe, epki[0], safe[epki[1][1]:epki[1][2]], password)
                elif kind == KEY_BAG:
                    key = safe[bag[1][1]:bag[1][2]]  # the PrivateKeyInfo itself
        return certs, key
    except (IndexError, KeyError) as e:
        raise DerError(f"not a PKCS#12 file ({e or 'unexpected structure'})") from None


def open_material(data: bytes, password: bytes) -> tuple[list[Any], Any]:
    """(certificates, private key or None) of a PFX, as ``cryptography`` objects; DerError
    unless the MAC checks out and every bag decrypts. The key is loaded without the RSA
    self-test (33 ms): callers compare it with a certificate instead."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    certs, key_der = open_pfx(data, password)
    try:
        key = load_der_private_key(key_der, None, unsafe_skip_rsa_key_validation=True) if key_der else None
        return [x509.load_der_x509_certificate(c) for c in certs], key
    except (ValueError, TypeError) as e:
        raise DerError(f"unreadable content ({e})") from None
