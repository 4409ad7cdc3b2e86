"""The process keyring for secrets at rest, from settings or (embedded default) a generated file."""

from __future__ import annotations

from interlink.config import ConfigurationError, Settings
from interlink.kit.crypto import Keyring


def load_keyring(settings: Settings) -> Keyring:
    if settings.encryption_keys is not None:
        try:
            return Keyring.parse(
                settings.encryption_keys.get_secret_value(), settings.encryption_active_key
            )
        except ValueError as exc:
            raise ConfigurationError(
                f"invalid configuration: INTERLINK_ENCRYPTION_KEYS: {exc}"
            ) from None
    return Keyring.load_or_create_file(settings.encryption_key_file)
