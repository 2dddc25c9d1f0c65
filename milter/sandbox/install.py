"""Postfix on this machine: what is missing, and installing it with apt-get (root only)."""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

from outguard.sandbox.process import HarnessError, backdate, is_root, run_tool, sbin

_APT_PACKAGES = ("postfix", "postfix-pcre", "libmilter-dev", "swaks")


def postfix_missing_reason() -> str | None:
    """Why the Postfix tool chain is unusable here, or None when it is complete."""
    missing = [
        name
        for name in ("postconf", "postfix", "postqueue", "postsuper", "sendmail", "smtp-sink")
        if not Path(sbin(name)).exists()
    ]
    if missing:
        return f"missing Postfix programs: {', '.join(missing)}"
    if not _pcre_available():
        return "Postfix has no pcre map support (package postfix-pcre)"
    return None


@functools.lru_cache(maxsize=1)
def _pcre_available() -> bool:
    with tempfile.TemporaryDirectory() as d:
        # Explicit names: an empty main.cf makes postconf look up the FQDN.
        Path(d, "main.cf").write_text("myhostname = probe.invalid\nmydomain = invalid\n")
        backdate(Path(d, "main.cf"))
        proc = run_tool([sbin("postconf"), "-c", d, "-m"], check=False)
    return proc.returncode == 0 and "pcre" in proc.stdout.decode().split()


def ensure_postfix_installed() -> None:
    """Install Postfix and friends with apt when any piece is missing.

    Preseeds debconf with "No configuration" so the package neither asks nor
    writes a main.cf, and never starts the system Postfix.  Needs root; raises
    :class:`HarnessError` with a clear message otherwise.
    """
    reason = postfix_missing_reason()
    need_extras = not Path("/usr/include/libmilter/mfapi.h").exists() or shutil.which("swaks") is None
    if reason is None and not need_extras:
        return
    if not is_root():
        if reason is None:
            return  # libmilter-dev/swaks are nice to have, not needed by the harness
        raise HarnessError(
            f"{reason}; run as root so the harness can "
            f"`apt-get install -y {' '.join(_APT_PACKAGES)}`, or install them yourself"
        )
    if shutil.which("apt-get") is None:
        raise HarnessError(f"{reason}; apt-get not found, install {' '.join(_APT_PACKAGES)} manually")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if shutil.which("debconf-set-selections"):
        run_tool(
            ["debconf-set-selections"],
            input=b"postfix postfix/main_mailer_type select No configuration\n",
            env=env,
        )
    run_tool(["apt-get", "update"], env=env, timeout=600)
    run_tool(
        [
            "apt-get",
            "install",
            "-y",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            *_APT_PACKAGES,
        ],
        env=env,
        timeout=900,
    )
    _pcre_available.cache_clear()
    reason = postfix_missing_reason()
    if reason is not None:
        raise HarnessError(f"apt-get install finished but Postfix is still unusable: {reason}")
