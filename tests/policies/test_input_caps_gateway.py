"""The gateway refuses a message or an attachment over the tenant's policy caps with a 413 that
names the limit, before any turn runs; tenants without a cap are not affected."""

from __future__ import annotations

import base64

from starlette.testclient import TestClient

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from gateway.app import create_app


def test_inputs_over_the_tenants_caps_are_refused_with_413_naming_the_limit(settings: Settings) -> None:
    # A body limit above globex's 5 MB attachment cap, so the policy's cap is what refuses.
    gateway_settings = load_settings(AGENTMESH_DATA_DIR=settings.data_dir, AGENTMESH_MAX_BODY_BYTES=8_000_000)

    def chat(client: TestClient, tenant: str, body: dict[str, object]):
        token = issue_dev_token(gateway_settings, tenant_id=tenant, user="alice")
        return client.post(f"/api/{tenant}/chat", json=body, headers={"Authorization": f"Bearer {token}"})

    scan = base64.b64encode(b"\0" * 5_000_001).decode()
    with TestClient(create_app(gateway_settings, servers={})) as client:
        long_message = chat(client, "globex", {"message": "x" * 2001})
        large_scan = chat(
            client,
            "globex",
            {
                "message": "read this",
                "attachments": [{"name": "scan.png", "media_type": "image/png", "content_base64": scan}],
            },
        )
        uncapped = chat(client, "acme", {"message": "What is the debt of MST 3428557611? " + "x" * 2000})
        token = issue_dev_token(gateway_settings, tenant_id="globex", user="alice")
        completion = client.post(
            "/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": "x" * 2001}]},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert long_message.status_code == 413, long_message.text
    error = long_message.json()["error"]
    assert error["code"] == "too_large"
    assert error["message"] == (
        "the message is 2,001 characters; at most 2,000 characters are accepted "
        "(policy limit max_message_chars)"
    )
    assert error["details"] == {"size": 2001, "limit": 2000, "limit_name": "max_message_chars"}

    assert large_scan.status_code == 413, large_scan.text
    assert large_scan.json()["error"]["message"].startswith("the attachment 'scan.png' is 5,000,001 bytes")

    assert uncapped.status_code == 200, uncapped.text
    assert completion.status_code == 413, completion.text
    assert completion.json()["error"]["code"] == "too_large"
