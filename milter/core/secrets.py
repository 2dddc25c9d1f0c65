"""Site secrets (one-click tokens, EDM hashes) come from a file or an environment variable,
never from the config itself; one reader, so both say the same when one is missing."""

from __future__ import annotations

import os
from pathlib import Path

MIN_SECRET_BYTES = 32


def read_secret(secret_file: str | os.PathLike[str] | None, env_var: str, what: str, setting: str,
                error: type[Exception]) -> bytes:
    """The secret in `secret_file`, else in `$env_var`; raise `error` when neither holds one
    of MIN_SECRET_BYTES. An unreadable file raises OSError (the caller says which file)."""
    env = os.environ.get(env_var)
    if secret_file:
        data = Path(secret_file).read_bytes().strip()
    elif env:
        data = env.encode()
    else:
        raise error(f"no {what} secret: set {setting} (e.g. `head -c 48 /dev/urandom | base64 "
                    f"> /etc/outguard/{setting.split('.')[0]}.key`) or ${env_var}")
    if len(data) < MIN_SECRET_BYTES:
        raise error(f"the {what} secret must be at least {MIN_SECRET_BYTES} bytes")
    return data
