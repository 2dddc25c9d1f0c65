"""Recipient hygiene: suppressed, role, disposable, typo-domain and invalid recipients."""
