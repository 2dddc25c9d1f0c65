#!/usr/bin/env python3
"""A do-nothing pymilter (the floor any Python milter pays): collects nothing, accepts all.

    null_milter.py unix:/path/to.sock
"""

from __future__ import annotations

import os
import signal
import sys

import Milter


class Null(Milter.Base):
    @Milter.noreply
    def connect(self, hostname, family, hostaddr):  # type: ignore[no-untyped-def]
        return Milter.CONTINUE

    @Milter.noreply
    def header(self, name, value):  # type: ignore[no-untyped-def]
        return Milter.CONTINUE

    @Milter.noreply
    def body(self, chunk):  # type: ignore[no-untyped-def]
        return Milter.CONTINUE

    def eom(self):  # type: ignore[no-untyped-def]
        return Milter.ACCEPT


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    os.umask(0o111)
    Milter.factory = Null
    Milter.set_flags(Milter.ADDHDRS)
    Milter.runmilter("null", sys.argv[1], 600)
