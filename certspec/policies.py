"""Must this id be issued, renewed or re-exported? An ordered chain of small pure checks.

Each check looks at one thing and returns a Decision (action, reason constant, detail,
sentence) or None; the first that fires wins. The order is the documented precedence:

 1. missing             create    nothing exists yet
 2. unreadable          reissue   key or certificate cannot be read
    key-lost            reissue   an authority's key is gone and something under it needs signing
 3. key-mismatch        reissue   the key does not belong to the certificate
 4. issuer-reissued     reissue   the issuer is (re)issued in this run, or signed it no longer
 5. spec-changed        reissue   a certificate field changed (detail names the fields)
 6. expired             renew     NotAfter has passed
 7. renew-due           renew     renew_before from the certificate's own NotBefore/NotAfter
 8. export-changed      re-export password, encryption, chain, friendly name or export list
 9. export-missing      re-export an export file is missing
10. export-edited       re-export an export file is truncated or edited
11. previous-ca-expired re-export an authority's trust file still holds an expired CA

Nothing here reads a file or a clock: the world and ``now`` are passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from certspec.durations import renewal_time
from certspec.model import CertSpec
from certspec.observed import Seen
from certspec.x509 import differences, key_matches, signed_by

CREATE, REISSUE, RENEW, REEXPORT, REMOVE, UNCHANGED = (
    "create", "reissue", "renew", "re-export", "remove", "unchanged")
ACTIONS = (CREATE, REISSUE, RENEW, REEXPORT, REMOVE, UNCHANGED)
ISSUING = {CREATE, REISSUE, RENEW}


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str
    detail: str = ""
    sentence: str = ""


@dataclass(frozen=True)
class Input:
    spec: CertSpec
    seen: Seen
    now: datetime
    issuer_cert: x509.Certificate | None  # the issuer's current certificate, if any
    issuer_action: str | None  # what the plan does to the issuer


Check = Callable[[Input], "Decision | None"]


def missing(i: Input) -> Decision | None:
    if not i.seen.exists:
        return Decision(CREATE, "missing", "", "does not exist yet")
    return None


def unreadable(i: Input) -> Decision | None:
    # An authority whose key is lost keeps serving while nothing under it needs signing
    # (plan.py reissues it, with reason key-lost, the moment something does).
    if i.seen.cert is None or (i.seen.key is None and not i.spec.is_authority):
        why = i.seen.unreadable or "key or certificate cannot be read"
        return Decision(REISSUE, "unreadable", "", why)
    return None


def key_mismatch(i: Input) -> Decision | None:
    assert i.seen.cert is not None
    if i.seen.key is not None and not key_matches(i.seen.key, i.seen.cert):
        return Decision(REISSUE, "key-mismatch", "", "the key does not belong to the certificate")
    return None


def issuer_reissued(i: Input) -> Decision | None:
    if i.spec.issuer is None:
        return None
    if i.issuer_action in ISSUING:
        return Decision(REISSUE, "issuer-reissued", i.spec.issuer, f"its issuer {i.spec.issuer} is issued anew")
    assert i.seen.cert is not None
    if i.issuer_cert is not None and not signed_by(i.seen.cert, i.issuer_cert):
        return Decision(REISSUE, "issuer-reissued", i.spec.issuer, f"it is not signed by the current {i.spec.issuer}")
    return None


def spec_changed(i: Input) -> Decision | None:
    assert i.seen.cert is not None
    fields = differences(i.spec, i.seen.cert, i.issuer_cert)
    if fields:
        return Decision(REISSUE, "spec-changed", ",".join(fields), f"changed: {', '.join(fields)}")
    return None


def expired(i: Input) -> Decision | None:
    assert i.seen.cert is not None
    if i.now >= i.seen.cert.not_valid_after_utc:
        return Decision(RENEW, "expired", i.seen.cert.not_valid_after_utc.isoformat(),
                        f"expired on {i.seen.cert.not_valid_after_utc:%Y-%m-%d}")
    return None


def due_at(spec: CertSpec, cert: x509.Certificate) -> datetime:
    return renewal_time(cert.not_valid_before_utc, cert.not_valid_after_utc, spec.renew_before)


def renew_due(i: Input) -> Decision | None:
    assert i.seen.cert is not None
    due = due_at(i.spec, i.seen.cert)
    if i.now >= due:
        return Decision(RENEW, "renew-due", due.isoformat(),
                        f"due for renewal since {due:%Y-%m-%d} (renew_before {i.spec.renew_before})")
    return None


def export_changed(i: Input) -> Decision | None:
    entry = i.seen.entry or {}
    fields = []
    pfx = entry.get("pfx") or {}
    if i.spec.pfx is not None and "pfx" in i.spec.exports:
        for name, want in (("encryption", i.spec.pfx.encryption), ("chain", i.spec.pfx.chain),
                           ("friendly_name", i.spec.friendly_name)):
            if pfx.get(name) != want:
                fields.append(name)
        if i.seen.password_same is False and i.seen.files.get(f"{i.spec.role}/{i.spec.name}.pfx") == "ok":
            fields.append("password")
    if not i.spec.is_authority and tuple(entry.get("exports") or ()) != i.spec.exports:
        fields.append("exports")
    if fields:
        return Decision(REEXPORT, "export-changed", ",".join(fields), f"changed: {', '.join(fields)}")
    return None


def export_missing(i: Input) -> Decision | None:
    gone = [f for f, s in i.seen.files.items() if s == "missing"]
    if gone:
        return Decision(REEXPORT, "export-missing", ",".join(gone), f"missing: {', '.join(gone)}")
    return None


def export_edited(i: Input) -> Decision | None:
    bad = [f for f, s in i.seen.files.items() if s == "edited"]
    if bad:
        return Decision(REEXPORT, "export-edited", ",".join(bad), f"edited or truncated: {', '.join(bad)}")
    return None


def previous_ca_expired(i: Input) -> Decision | None:
    entry = i.seen.entry or {}
    until = entry.get("trust_previous_until")
    if i.spec.is_authority and until and i.now >= datetime.fromisoformat(until):
        return Decision(REEXPORT, "previous-ca-expired", until, "the previous CA in its trust file has expired")
    return None


CHAIN: tuple[Check, ...] = (missing, unreadable, key_mismatch, issuer_reissued, spec_changed, expired,
                            renew_due, export_changed, export_missing, export_edited, previous_ca_expired)
UP_TO_DATE = Decision(UNCHANGED, "up-to-date", "", "up to date")


def decide(i: Input) -> Decision:
    for check in CHAIN:
        d = check(i)
        if d is not None:
            return d
    return UP_TO_DATE
