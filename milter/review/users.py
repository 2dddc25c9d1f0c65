"""The local users file of the review page: name -> role and argon2id hash (argon2-cffi).
Written 0600 by `outguard review user add|remove`; read at each login, so a change needs
no restart."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("reviewer", "admin")
NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MIN_PASSWORD = 12
_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")


class UsersError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    name: str
    role: str


class UsersFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = yaml.safe_load(self.path.read_text()) or {}
        except FileNotFoundError:
            return {}
        users = data.get("users") or {}
        if not isinstance(users, dict):
            raise UsersError(f"{self.path}: 'users' must be a mapping")
        return users

    def _write(self, users: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump({"users": users}, fh, sort_keys=True)
        os.replace(tmp, self.path)

    def add(self, name: str, role: str, password: str) -> None:
        """Add a user or replace their password and role."""
        if not NAME.match(name):
            raise UsersError("a user name is 1-64 of A-Z a-z 0-9 . _ @ -")
        if role not in ROLES:
            raise UsersError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise UsersError(f"a password has at least {MIN_PASSWORD} characters")
        users = self._read()
        users[name] = {"role": role, "hash": _hasher.hash(password)}
        self._write(users)

    def remove(self, name: str) -> bool:
        users = self._read()
        if users.pop(name, None) is None:
            return False
        self._write(users)
        return True

    def list(self) -> list[User]:
        return [User(n, str(u.get("role"))) for n, u in sorted(self._read().items())]

    def verify(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs; None otherwise (same cost either way)."""
        entry = self._read().get(name)
        try:
            _hasher.verify(entry["hash"] if entry else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        if entry is None or entry.get("role") not in ROLES:
            return None
        return User(name, str(entry["role"]))
