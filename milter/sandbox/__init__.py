"""A throw-away Postfix on loopback for the quick start, the end-to-end tests and the
benchmark, by idea: `install` (Postfix present, apt-get otherwise), `sink` (an SMTP sink
keeping what it gets), `postfix` (the private instance), `process` (tools, ports, waits,
shared directories); `run` is `outguard sandbox`.

Stdlib only; importable without pytest. Everything needs root (Postfix's ``master``
must start as root) and a Debian/Ubuntu-like Postfix >= 3.4 (for ``maillog_file`` +
``postlogd``); it was written against Debian 12 / Postfix 3.7. Typical use::

    base = make_shared_tmpdir()                # reachable by the postfix user
    with PostfixInstance(base / "pf", milter=f"unix:{base}/m/outguard.sock") as pf:
        code, text = pf.send(raw, "a@example.org", ["b@example.com"])
        msgs = pf.sink.wait_for(1)             # relayed, plaintext
        routed = pf.tls_sink.wait_for(1)       # FILTERed to outguard-tls
"""
