"""Encryption fitted to the recipient: S/MIME and OpenPGP inline, TLS with a portal fallback
(README, "Encryption"). `Encryptor` resolves `encrypt: auto`; `Keystore` holds the keys."""

from outguard.encryption.inline import Encryptor
from outguard.encryption.keystore import KeyInfo, KeyRefused, Keystore

__all__ = ["Encryptor", "KeyInfo", "KeyRefused", "Keystore"]
