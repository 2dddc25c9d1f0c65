"""Bounce and complaint intake (`outguard.intake`): DSNs, ARF reports, the common
non-standard bounces, auto-replies and Postfix's delivery log become delivery events,
which go through the suppression policy into the store.

`parse_message(raw)` -> `Report` (kind + events); `Ingestor` records reports and log
events in a `SuppressionStore`, idempotently.
"""

from __future__ import annotations

from outguard.intake.events import DeliveryEvent, Report, classify
from outguard.intake.parse import MAX_BYTES, parse_message

__all__ = ["DeliveryEvent", "MAX_BYTES", "Report", "classify", "parse_message"]
