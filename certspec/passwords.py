"""Password sources. Nothing else in certspec reads, makes or compares a password.

(Named ``passwords`` rather than ``secrets`` so that it never shadows the standard library
module it uses.)
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
import string
from hashlib import sha256
from pathlib import Path

from certspec.errors import SecretError
from certspec.logging import get_logger
from certspec.model import PasswordSpec

# Letters and digits only: a generated password is pasted into ARM parameter files,
# dotenv files, YAML and shell variables, where quotes, '$' or '#' would need escaping.
# 24 of them carry 142 bits.
ALPHABET = string.ascii_letters + string.digits
log = get_logger("certspec.passwords")


class Password:
    """A password that never prints itself (not in repr, str, logs or tracebacks)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def encode(self) -> bytes:
        return self._value.encode("utf-8")

    def __repr__(self) -> str:
        return "Password(***)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[type, tuple[str]]:  # for worker processes only
        return (Password, (self._value,))


def generate(length: int) -> Password:
    return Password("".join(secrets.choice(ALPHABET) for _ in range(length)))


def resolve(spec: PasswordSpec, owner: str, generated_file: Path | None) -> Password | None:
    """The password for ``owner`` (an id, for messages) from its source.

    For ``generate``, the password already kept in ``generated_file`` if it has the asked
    length, else None (the caller generates one when it writes). Raises SecretError for a
    missing variable, an unreadable or empty file.
    """
    if spec.source == "generate":
        if generated_file is None:
            return None
        try:
            value = generated_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        return Password(value) if len(value) == spec.length and value.isalnum() else None
    if spec.source == "env":
        env_value = os.environ.get(spec.name)
        if env_value is None:
            raise SecretError(f"{owner}: password environment variable {spec.name} is not set")
        if not env_value:
            raise SecretError(f"{owner}: password environment variable {spec.name} is empty")
        return Password(env_value)
    path = Path(spec.name)
    try:
        value = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or "not UTF-8 text"
        raise SecretError(f"{owner}: cannot read password file {path}: {reason}") from None
    if value.endswith("\n"):
        value = value[:-2] if value.endswith("\r\n") else value[:-1]
    if not value:
        raise SecretError(f"{owner}: password file {path} is empty")
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("password file readable by others", id=owner, file=str(path),
                    hint=f"chmod 600 {path}")
    return Password(value)


def fingerprint(password: Password, key: bytes) -> str:
    """HMAC-SHA256 of the password under the output folder's own secret key: lets the
    engine notice a changed password without ever storing one."""
    return hmac.new(key, password.encode(), sha256).hexdigest()
