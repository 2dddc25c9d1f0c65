"""The review page: held messages for reviewers and admins, behind the site's TLS proxy
(`outguard review serve`), its users file, and the daily digest to senders."""
