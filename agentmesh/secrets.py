"""Secrets at rest (tenant LLM keys, ERP service credentials) encrypted with Fernet.

The key comes from `AGENTMESH_SECRET_KEY` (a Fernet key) or, on a developer machine, from a key
file created in the data directory on first use. Ciphertexts are only decrypted for the one
outbound request that needs them.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from agentmesh.keys import write_exclusive
from agentmesh.settings import Settings

SECRET_KEY_FILE = "secrets.key"


class SecretBox:
    """Encrypts and decrypts short secrets."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with this key") from exc


def secret_box(settings: Settings) -> SecretBox:
    """The platform's `SecretBox`: the configured key, else the data directory's key file."""
    if settings.secret_key:
        return SecretBox(settings.secret_key.encode())
    path = settings.keys_dir / SECRET_KEY_FILE
    if not path.exists():
        write_exclusive(path, Fernet.generate_key())
    return SecretBox(path.read_bytes().strip())
