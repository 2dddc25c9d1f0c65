"""Sender reputation guardrails (`outguard.reputation`): what receivers measure of us.

* `recorder`: the milter records each accepted recipient (sender domain, stream, egress IP)
  in the store, batched off the SMTP path.
* `figures`: rolling rates per stream and per sender domain from those records and the
  bounce/complaint events `outguard ingest` writes (`og_events`); sticky pauses and resumes.
* `service`: what the `reputation` check gets as `services["reputation"]`.
* `warmup`, `pacing`, `report`: daily caps for a new IP or stream, Postfix pacing per
  provider, the report and its plot.

SQLAlchemy is imported only when a store is opened (as in `outguard.store`).
"""
