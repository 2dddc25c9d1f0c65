"""Closing the loop with senders: notices on hold/reject/forced encryption, shadow copies of
trial rules, and the signed marker that keeps outguard from inspecting its own submissions."""
