"""Log lines never carry secrets: secret-named fields and tokens inside text are masked."""

from __future__ import annotations

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.logging import drop_secrets
from agentmesh.settings import Settings


def test_secret_named_fields_are_masked() -> None:
    event = {
        "event": "provider_configured",
        "api_key": "sk-live-123",
        "Authorization": "Bearer abc",
        "mesh_token": "x",
        "client_secret": "y",
        "input_tokens": 1200,
        "tenant_id": "acme",
    }
    masked = drop_secrets(None, "info", event)
    assert masked["api_key"] == masked["Authorization"] == masked["mesh_token"] == "[redacted]"
    assert masked["client_secret"] == "[redacted]"
    assert masked["input_tokens"] == 1200, "a count of tokens is not a secret"
    assert masked["tenant_id"] == "acme"


def test_tokens_inside_text_are_masked(settings: Settings) -> None:
    token = issue_dev_token(settings, tenant_id="acme", user="alice")
    event = {
        "event": "upstream_failed",
        "exception": f"Traceback ...\nValueError: rejected header 'Authorization: Bearer {token}'",
        "url": f"https://erp.example/api?access={token}",
        "note": "bearer sk-abcdefghijklmnop was refused",
    }
    masked = drop_secrets(None, "error", event)
    for value in masked.values():
        assert token not in value
        assert token.split(".")[1] not in value
    assert "sk-abcdefghijklmnop" not in masked["note"]
    assert masked["exception"].startswith("Traceback ...\nValueError: rejected header")
