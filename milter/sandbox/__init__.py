"""A throw-away Postfix on loopback for the quick start and the end-to-end tests:
installing Postfix, an SMTP sink, and the instance itself."""
