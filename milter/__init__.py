"""outguard: inspect outgoing mail and decide, by YAML rules, what Postfix does with it."""

__version__ = "0.1.0"
