"""Encryption at rest for upstream tokens: a MultiFernet keyring and the model field that uses it.

The first key of `TOKEN_ENCRYPTION_KEYS` encrypts; every key decrypts, so a new key can be
put first while the old one stays second until `rotate_token_keys` has re-encrypted all rows.
No code outside this module ever handles ciphertext.
"""

from __future__ import annotations

import functools
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.dispatch import receiver
from django.views.decorators.debug import sensitive_variables

GENERATE_KEY_HINT = (
    'Generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class TokenDecryptionError(Exception):
    """A stored token could not be decrypted with any configured key."""


def key_problems(keys: list[str]) -> list[str]:
    """Describe what is wrong with a list of Fernet keys, by position only (never the key)."""
    if not keys:
        return ["TOKEN_ENCRYPTION_KEYS is not set."]
    problems = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.strip())
        except (ValueError, TypeError):
            problems.append(
                f"Key number {position} of TOKEN_ENCRYPTION_KEYS is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            )
    return problems


@functools.cache
def _keyring(keys: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    problems = key_problems(list(keys))
    if problems:
        raise ImproperlyConfigured(" ".join(problems) + " " + GENERATE_KEY_HINT)
    fernets = [Fernet(key.strip()) for key in keys]
    return fernets[0], MultiFernet(fernets)


def keyring() -> tuple[Fernet, MultiFernet]:
    """The primary key and the full keyring, built once per distinct setting value."""
    return _keyring(tuple(settings.TOKEN_ENCRYPTION_KEYS))


@receiver(setting_changed)
def _forget_keyring(*, setting: str, **kwargs: Any) -> None:
    if setting == "TOKEN_ENCRYPTION_KEYS":
        _keyring.cache_clear()


@sensitive_variables("plaintext")
def encrypt(plaintext: str) -> str:
    return keyring()[1].encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt with any configured key. Raises InvalidToken when none fits."""
    return keyring()[1].decrypt(ciphertext.encode()).decode()


def is_under_primary_key(ciphertext: str) -> bool:
    try:
        keyring()[0].decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True


def reencrypt_with_primary(ciphertext: str) -> str:
    return keyring()[1].rotate(ciphertext.encode()).decode()


class Ciphertext(str):
    """A value as stored in the database; it keeps its plaintext once decrypted."""

    plaintext: str | None = None


class EncryptedDescriptor(DeferredAttribute):
    """Decrypts lazily on attribute access, so a failure can name the row it belongs to."""

    def __get__(self, instance: models.Model | None, cls: type | None = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if not isinstance(value, Ciphertext):
            return value
        if value.plaintext is None:
            try:
                value.plaintext = decrypt(value)
            except InvalidToken:
                raise TokenDecryptionError(
                    f"The {self.field.name} of {instance} cannot be decrypted with the configured "
                    "TOKEN_ENCRYPTION_KEYS. Add the key it was encrypted with, or set a new value."
                ) from None
        # The ciphertext stays in place, so saving a token that was only read rewrites the same bytes.
        return value.plaintext

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = "" if value is None else value


class EncryptedTextField(models.TextField[str, str]):
    """Holds a secret as plaintext in memory and only Fernet ciphertext in the database.

    An empty value means "not set" and is stored as an empty string, not encrypted.
    """

    descriptor_class = EncryptedDescriptor

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str:
        return Ciphertext(value) if value else ""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # The raw value: a token loaded and not changed is written back as the same ciphertext.
        return model_instance.__dict__.get(self.attname, "")

    @sensitive_variables("value")
    def get_prep_value(self, value: Any) -> str:
        if not value:
            return ""
        if isinstance(value, Ciphertext):
            return str(value)
        return encrypt(str(value))

    def is_set(self, instance: models.Model) -> bool:
        """Whether a value is stored, without decrypting it."""
        return bool(instance.__dict__.get(self.attname))

    def rotate(self, instance: models.Model) -> bool:
        """Re-encrypt the stored value under the primary key, without decrypting it into the instance.

        Returns whether it changed (False when empty or already under the primary key); the caller saves.
        """
        stored = instance.__dict__.get(self.attname, "")
        if not isinstance(stored, Ciphertext) or is_under_primary_key(stored):
            return False
        instance.__dict__[self.attname] = Ciphertext(reencrypt_with_primary(stored))
        return True

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisation (dumpdata) carries the ciphertext, never the secret.
        value = obj.__dict__.get(self.attname, "")
        return self.get_prep_value(value)
