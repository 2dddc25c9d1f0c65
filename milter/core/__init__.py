"""The core: what a message is, what a finding is, what a decision is, and the config.

Everything else builds on these modules; they import nothing outside `outguard.core`.
"""
