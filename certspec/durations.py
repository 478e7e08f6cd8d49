"""Durations (``90d``, ``2y``, ``10m``) and the one renewal-time function.

Units: ``s`` seconds, ``m`` minutes, ``h`` hours, ``d`` days, ``w`` weeks, ``y`` years of
365 days (X.509 validity is counted in seconds; leap days are not special-cased, exactly as
New-SelfSignedCertificate's ``AddYears`` is not used either).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

DURATION_RE = re.compile(r"^([0-9]{1,7})(s|m|h|d|w|y)$")
PERCENT_RE = re.compile(r"^([1-9][0-9]?)%$")
_UNIT = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "y": timedelta(days=365),
}


def parse_duration(text: str) -> timedelta:
    """``"90d"`` -> 90 days. Raises ValueError with a user-facing message."""
    m = DURATION_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a duration (use a number and s, m, h, d, w or y: 90d, 2y)")
    return int(m.group(1)) * _UNIT[m.group(2)]


def format_duration(td: timedelta) -> str:
    """The shortest exact spelling: 365 days -> ``1y``."""
    secs = int(td.total_seconds())
    for unit in ("y", "w", "d", "h", "m"):
        size = int(_UNIT[unit].total_seconds())
        if secs and secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"


@dataclass(frozen=True)
class RenewBefore:
    """When to renew: a fixed ``duration`` before NotAfter, or a ``percent`` of the lifetime."""

    duration: timedelta | None = None
    percent: int | None = None

    @classmethod
    def parse(cls, text: str) -> RenewBefore:
        m = PERCENT_RE.match(text.strip())
        if m:
            return cls(percent=int(m.group(1)))
        return cls(duration=parse_duration(text))

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{self.percent}%"
        assert self.duration is not None
        return format_duration(self.duration)


def renewal_time(not_before: datetime, not_after: datetime, renew_before: RenewBefore) -> datetime:
    """The moment a certificate with this NotBefore/NotAfter falls due for renewal.

    The one function that validate, plan, status and apply all share (contract §4).
    """
    if renew_before.percent is not None:
        lifetime = not_after - not_before
        return not_after - lifetime * renew_before.percent / 100
    assert renew_before.duration is not None
    return not_after - renew_before.duration
