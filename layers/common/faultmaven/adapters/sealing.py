"""Envelope encryption of the small secrets we keep in PostgreSQL (a cluster's bearer
token or password), with AES-256-GCM from `cryptography`.

On AWS every value gets its own KMS data key (GenerateDataKey under the deployment's
key, with the row as encryption context): the database holds only the wrapped key, so a
dump of it opens nothing without `kms:Decrypt`. Locally one key file (created 0600 in the
state directory) plays KMS's part. Both formats start with a version byte string so a
later scheme can be told apart.
"""

from __future__ import annotations

import os
import secrets
import struct
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from faultmaven.adapters.aws import client
from faultmaven.core.errors import ServiceUnavailableError
from faultmaven.core.settings import Settings

LOCAL = b"fl1"
KMS = b"fk1"
NONCE_BYTES = 12


class SealError(ValueError):
    """A value that does not open: another key, another context, or corrupted."""


def _seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def _open(key: bytes, sealed: bytes, context: str) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode())
    except (InvalidTag, ValueError) as exc:
        raise SealError("the sealed value does not open with this key and context") from exc


class LocalKeySealer:
    """AES-GCM under a 256-bit key kept in a file: the local runtime's stand-in for KMS."""

    def __init__(self, key_file: Path) -> None:
        self._path = key_file
        self._key: bytes | None = None

    def _load(self) -> bytes:
        if self._key is None:
            if not self._path.exists():
                self._path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(secrets.token_bytes(32))
            key = self._path.read_bytes()
            if len(key) != 32:
                raise SealError(f"{self._path} does not hold a 256-bit key")
            self._key = key
        return self._key

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        return LOCAL + _seal(self._load(), plaintext, context)

    def open(self, sealed: bytes, *, context: str) -> bytes:
        if not sealed.startswith(LOCAL):
            raise SealError("not sealed by the local key")
        return _open(self._load(), sealed[len(LOCAL) :], context)


def _unavailable() -> ServiceUnavailableError:
    return ServiceUnavailableError("KMS is unavailable", error_code="KMS_UNAVAILABLE")


class KmsSealer:
    """A KMS data key per value; the wrapped key travels with the ciphertext."""

    def __init__(self, settings: Settings, key_id: str) -> None:
        self._settings = settings
        self._key_id = key_id

    def _kms(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        import botocore.exceptions

        try:
            response: dict[str, Any] = getattr(client("kms", self._settings), operation)(**kwargs)
            return response
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"InvalidCiphertextException", "IncorrectKeyException"}:
                raise SealError("KMS refused the wrapped key for this context") from exc
            raise ServiceUnavailableError(
                "KMS is unavailable", error_code="KMS_UNAVAILABLE"
            ) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise ServiceUnavailableError(
                "KMS is unavailable", error_code="KMS_UNAVAILABLE"
            ) from exc

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        data_key = self._kms(
            "generate_data_key",
            KeyId=self._key_id,
            KeySpec="AES_256",
            EncryptionContext={"faultmaven": context},
        )
        wrapped: bytes = data_key["CiphertextBlob"]
        body = _seal(data_key["Plaintext"], plaintext, context)
        return KMS + struct.pack(">H", len(wrapped)) + wrapped + body

    def open(self, sealed: bytes, *, context: str) -> bytes:
        if not sealed.startswith(KMS) or len(sealed) < len(KMS) + 2:
            raise SealError("not sealed by KMS")
        (length,) = struct.unpack(">H", sealed[len(KMS) : len(KMS) + 2])
        start = len(KMS) + 2
        wrapped, body = sealed[start : start + length], sealed[start + length :]
        plain_key = self._kms(
            "decrypt", CiphertextBlob=wrapped, EncryptionContext={"faultmaven": context}
        )["Plaintext"]
        return _open(plain_key, body, context)
