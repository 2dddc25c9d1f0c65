"""`outguard doctor DOMAIN`: is the sender set up the way receivers (Gmail, Yahoo, Microsoft)
require of bulk senders? SPF, DKIM, DMARC, reverse DNS, MX/TLS and the bulk-sender
checklist, each item OPEN or OK with its impact and the fix.

DNS goes through one configurable resolver (`--nameserver IP[:PORT]`), so tests point it at
a server on loopback; SPF is evaluated by pyspf, DKIM by dkimpy, DMARC records are read and
parsed by checkdmarc, lookups by dnspython.
"""
