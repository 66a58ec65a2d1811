"""The demo ERP REST API (`agentmesh demo-erp`): per-tenant keys or signed identity tokens,
fixture-exact answers, safe orders."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.keys import SigningKey, load_or_create_key, mesh_key
from agentmesh.mesh_tokens import IDENTITY_TOKEN_TYPE, mint_identity_token, mint_server_token
from agentmesh.secrets import secret_box
from mcp_servers.erp.credentials import ServiceCredentialStore
from mcp_servers.erp.demo_access import DEMO_CREDENTIAL, DemoApiKeys
from mcp_servers.erp.demo_schema import customers, demo_engine, invoices, seed_demo_database
from tests.mcp_servers.erp.conftest import debtors, expected_debt, settings_for
from tests.support.processes import child_env, free_port, stop, wait_healthy


@dataclass
class DemoApi:
    url: str
    data_dir: Path


@pytest.fixture(scope="module")
def demo_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApi]:
    data_dir = tmp_path_factory.mktemp("demo-erp")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agentmesh.cli", "demo-erp", "--port", str(port)], env=child_env(data_dir)
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        yield DemoApi(f"http://127.0.0.1:{port}", data_dir)
    finally:
        stop(process)


@pytest.fixture
async def keys(demo_api: DemoApi) -> dict[str, str]:
    """Each tenant's API key, read the way the ERP server reads it: decrypted from the platform DB."""
    settings = settings_for(demo_api.data_dir)
    engine = create_engine(settings.resolved_database_url)
    store = ServiceCredentialStore(session_factory(engine), secret_box(settings))
    found = {tenant: await store.reveal(tenant, DEMO_CREDENTIAL) for tenant in ("acme", "globex")}
    await engine.dispose()
    assert all(found.values()), "the demo ERP provisions a key for each tenant on first start"
    return {tenant: key for tenant, key in found.items() if key}


async def get(api: DemoApi, key: str | None, path: str, **params: Any) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
        return await client.get(path, params=params)


async def post(api: DemoApi, key: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=api.url, headers={"X-API-Key": key}) as client:
        return await client.post(path, **kwargs)


async def test_requests_without_a_valid_key_are_refused(demo_api: DemoApi, demo_data: dict[str, Any]) -> None:
    mst = demo_data["tenants"]["acme"]["customers"][0]["mst"]
    for key in (None, "not-a-key"):
        response = await get(demo_api, key, f"/customers/{mst}/debt")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


async def test_debt_matches_the_fixture(
    demo_api: DemoApi, keys: dict[str, str], demo_data: dict[str, Any]
) -> None:
    branch = next(c["mst"] for c in demo_data["tenants"]["acme"]["customers"] if "-" in c["mst"])
    checked = [*debtors(demo_data, "acme")[:4], branch]
    for mst in checked:
        body = (await get(demo_api, keys["acme"], f"/customers/{mst}/debt")).json()
        assert (body["outstanding"], body["overdue"]) == expected_debt(demo_data, "acme", mst), mst
        assert body["not_yet_due"] == body["outstanding"] - body["overdue"]
        assert sum(invoice["balance"] for invoice in body["open_invoices"]) == body["outstanding"]


async def test_debt_as_of_an_earlier_day_ignores_later_invoices_and_payments(
    demo_api: DemoApi, keys: dict[str, str], demo_data: dict[str, Any]
) -> None:
    mst = debtors(demo_data, "acme")[0]
    body = (await get(demo_api, keys["acme"], f"/customers/{mst}/debt", as_of="2025-04-01")).json()
    assert body["as_of"] == "2025-04-01"
    assert (body["outstanding"], body["overdue"]) == expected_debt(demo_data, "acme", mst, "2025-04-01")
    bad = await get(demo_api, keys["acme"], f"/customers/{mst}/debt", as_of="April")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json()["error"]["message"]


async def test_overdue_customers_are_every_late_payer_largest_first(
    demo_api: DemoApi, keys: dict[str, str], demo_data: dict[str, Any]
) -> None:
    late = debtors(demo_data, "acme")
    body = (await get(demo_api, keys["acme"], "/customers/overdue", limit=200)).json()
    assert body["count"] == len(late)
    assert [c["mst"] for c in body["customers"]] == late
    assert body["total_overdue"] == sum(expected_debt(demo_data, "acme", mst)[1] for mst in late)
    top = (await get(demo_api, keys["acme"], "/customers/overdue", limit=3)).json()
    assert len(top["customers"]) == 3 and top["count"] == len(late)


async def test_malformed_mst_names_the_format_and_unknown_customer_is_not_found(
    demo_api: DemoApi, keys: dict[str, str]
) -> None:
    malformed = await get(demo_api, keys["acme"], "/customers/12345/debt")
    assert malformed.status_code == 400
    assert "10 digits" in malformed.json()["error"]["message"]
    unknown = await get(demo_api, keys["acme"], "/customers/0999999999/debt")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "code": "not_found",
        "message": "no customer with MST 0999999999",
        "details": {"mst": "0999999999"},
    }


async def test_a_tenant_never_sees_another_tenants_rows(
    demo_api: DemoApi, keys: dict[str, str], demo_data: dict[str, Any]
) -> None:
    acme = demo_data["tenants"]["acme"]
    acme_mst = debtors(demo_data, "acme")[0]
    acme_rows = [
        f"/customers/{acme_mst}",
        f"/customers/{acme_mst}/debt",
        f"/customers/{acme_mst}/payments",
        f"/shipments/{acme['shipments'][0]['shipment_id']}",
        f"/shipments/{acme['shipments'][0]['shipment_id']}/events",
        f"/orders/{acme['orders'][0]['order_id']}",
        f"/stock/{acme['skus'][0]['sku']}",
    ]
    for path in acme_rows:
        assert (await get(demo_api, keys["acme"], path)).status_code == 200, path
        assert (await get(demo_api, keys["globex"], path)).status_code == 404, path
    globex_mst = debtors(demo_data, "globex")[0]
    own = (await get(demo_api, keys["globex"], f"/customers/{globex_mst}/debt")).json()
    assert (own["outstanding"], own["overdue"]) == expected_debt(demo_data, "globex", globex_mst)
    overdue = (await get(demo_api, keys["globex"], "/customers/overdue", limit=200)).json()
    assert {c["mst"] for c in overdue["customers"]} == set(debtors(demo_data, "globex"))


async def test_shipment_tracking_reports_the_latest_event(
    demo_api: DemoApi, keys: dict[str, str], demo_data: dict[str, Any]
) -> None:
    shipment = next(s for s in demo_data["tenants"]["acme"]["shipments"] if s["shipment_id"] == "SH-1042")
    status = (await get(demo_api, keys["acme"], "/shipments/SH-1042")).json()
    assert status["status"] == shipment["events"][-1]["status"]
    assert status["location"] == shipment["events"][-1]["location"]
    assert status["delivered"] == (shipment["events"][-1]["status"] == "delivered")
    events = (await get(demo_api, keys["acme"], "/shipments/SH-1042/events")).json()
    assert events["events"] == shipment["events"]


async def test_stock_level_adds_up_the_warehouses(
    demo_api: DemoApi, keys: dict[str, str], demo_data: dict[str, Any]
) -> None:
    sku = demo_data["tenants"]["acme"]["skus"][1]
    level = (await get(demo_api, keys["acme"], f"/stock/{sku['sku']}")).json()
    assert level["on_hand"] == sum(w["on_hand"] for w in sku["stock"])
    assert level["available"] == sum(w["on_hand"] - w["reserved"] for w in sku["stock"])
    assert level["below_reorder_point"] == (level["available"] < sku["reorder_point"])


async def test_an_order_reserves_stock_and_only_its_tenant_can_read_it(
    demo_api: DemoApi, keys: dict[str, str], demo_data: dict[str, Any]
) -> None:
    mst = demo_data["tenants"]["acme"]["customers"][2]["mst"]
    sku = next(
        s
        for s in demo_data["tenants"]["acme"]["skus"]
        if sum(w["on_hand"] - w["reserved"] for w in s["stock"]) > 5
    )
    before = (await get(demo_api, keys["acme"], f"/stock/{sku['sku']}")).json()["available"]
    placed = await post(
        demo_api, keys["acme"], "/orders", json={"mst": mst, "items": [{"sku": sku["sku"], "quantity": 3}]}
    )
    assert placed.status_code == 201
    order = placed.json()
    assert order["status"] == "confirmed" and order["total"] == 3 * sku["unit_price"]
    after = (await get(demo_api, keys["acme"], f"/stock/{sku['sku']}")).json()["available"]
    assert after == before - 3
    assert (await get(demo_api, keys["acme"], f"/orders/{order['order_id']}")).json() == order
    assert (await get(demo_api, keys["globex"], f"/orders/{order['order_id']}")).status_code == 404


async def test_an_order_beyond_the_stock_is_refused_and_reserves_nothing(
    demo_api: DemoApi, keys: dict[str, str], demo_data: dict[str, Any]
) -> None:
    mst = demo_data["tenants"]["acme"]["customers"][3]["mst"]
    first, second = demo_data["tenants"]["acme"]["skus"][4:6]
    levels = [
        (await get(demo_api, keys["acme"], f"/stock/{s['sku']}")).json()["available"] for s in (first, second)
    ]
    items = [{"sku": first["sku"], "quantity": 1}, {"sku": second["sku"], "quantity": levels[1] + 1}]
    refused = await post(demo_api, keys["acme"], "/orders", json={"mst": mst, "items": items})
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["requested"] == levels[1] + 1
    after = [
        (await get(demo_api, keys["acme"], f"/stock/{s['sku']}")).json()["available"] for s in (first, second)
    ]
    assert after == levels, "the first line's reservation was rolled back with the order"


async def test_an_order_for_another_tenants_customer_is_not_found(
    demo_api: DemoApi, keys: dict[str, str], demo_data: dict[str, Any]
) -> None:
    acme_mst = demo_data["tenants"]["acme"]["customers"][0]["mst"]
    globex_sku = demo_data["tenants"]["globex"]["skus"][0]["sku"]
    refused = await post(
        demo_api,
        keys["globex"],
        "/orders",
        json={"mst": acme_mst, "items": [{"sku": globex_sku, "quantity": 1}]},
    )
    assert refused.status_code == 404


async def test_an_invalid_order_lists_each_problem(demo_api: DemoApi, keys: dict[str, str]) -> None:
    response = await post(
        demo_api,
        keys["acme"],
        "/orders",
        json={"mst": "0101234567", "items": [{"sku": "ACM-0001", "quantity": 0}, {}]},
    )
    assert response.status_code == 400
    fields = {p["field"] for p in response.json()["error"]["details"]["problems"]}
    assert fields == {"items.0.quantity", "items.1.sku", "items.1.quantity"}
    not_json = await post(
        demo_api, keys["acme"], "/orders", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400


async def test_a_body_over_100_kb_is_refused(demo_api: DemoApi, keys: dict[str, str]) -> None:
    body = {"mst": "0101234567", "items": [{"sku": "ACM-0001", "quantity": 1}], "note": "x" * (101 * 1024)}
    response = await post(demo_api, keys["acme"], "/orders", json=body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


async def test_seeding_happens_once(tmp_path: Path, demo_data: dict[str, Any]) -> None:
    engine = demo_engine(settings_for(tmp_path))
    assert await seed_demo_database(engine) is True
    assert await seed_demo_database(engine) is False
    async with engine.connect() as conn:
        customer_count = await conn.scalar(sa.select(sa.func.count()).select_from(customers))
        invoice_count = await conn.scalar(sa.select(sa.func.count()).select_from(invoices))
    await engine.dispose()
    ledgers = demo_data["tenants"].values()
    assert customer_count == sum(len(ledger["customers"]) for ledger in ledgers)
    assert invoice_count == sum(len(ledger["invoices"]) for ledger in ledgers)


async def test_a_replaced_key_stops_working_at_once_though_keys_are_remembered(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    platform = create_engine(settings.resolved_database_url)
    await upgrade_database(platform)
    credentials = ServiceCredentialStore(session_factory(platform), secret_box(settings))
    demo = demo_engine(settings)
    await seed_demo_database(demo)
    keys = DemoApiKeys(demo)
    assert await keys.provision(["acme", "globex"], credentials) == ["acme", "globex"]
    acme, globex = [await credentials.reveal(tenant, DEMO_CREDENTIAL) for tenant in ("acme", "globex")]
    assert acme and globex
    assert (await keys.tenant_for(acme), await keys.tenant_for(globex)) == ("acme", "globex")
    assert await keys.tenant_for(acme) == "acme", "remembered: answered again without a query"

    await credentials.delete("acme", DEMO_CREDENTIAL)  # the platform lost its half: a new key
    assert await keys.provision(["acme", "globex"], credentials) == ["acme"]
    assert await keys.tenant_for(acme) is None
    assert await keys.tenant_for(str(await credentials.reveal("acme", DEMO_CREDENTIAL))) == "acme"
    assert await keys.tenant_for(globex) == "globex"
    await demo.dispose()
    await platform.dispose()


# Who is calling: identity tokens, and the unsigned headers they replace


def identity(api: DemoApi, tenant: str, *, key: SigningKey | None = None, **changes: Any) -> str:
    """An identity token as the ERP server mints it for a tool with auth mode `user`."""
    arguments: dict[str, Any] = {
        "issuer": "agentmesh-host",
        "audience": "agentmesh-erp-api",
        "tenant_id": tenant,
        "subject": "alice",
        "roles": ["user"],
    } | changes
    return mint_identity_token(key or mesh_key(settings_for(api.data_dir).keys_dir), **arguments)


async def get_as(api: DemoApi, headers: dict[str, str], path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
        return await client.get(path)


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    return str(error["message"])


async def test_unsigned_identity_headers_are_refused_even_with_a_valid_key(
    demo_api: DemoApi, keys: dict[str, str], demo_data: dict[str, Any]
) -> None:
    mst = demo_data["tenants"]["acme"]["customers"][0]["mst"]
    forged = {"X-Agentmesh-User": "ceo", "X-Agentmesh-Tenant": "acme"}
    alone = await get_as(demo_api, forged, f"/customers/{mst}/debt")
    assert "X-Agentmesh-User and X-Agentmesh-Tenant cannot say who is calling" in refusal(alone)
    with_key = await get_as(demo_api, {**forged, "X-API-Key": keys["globex"]}, f"/customers/{mst}/debt")
    assert "signed identity token" in refusal(with_key)


async def test_a_valid_identity_token_names_the_tenant(demo_api: DemoApi, demo_data: dict[str, Any]) -> None:
    mst = debtors(demo_data, "acme")[0]
    acme = await get_as(
        demo_api, {"Authorization": f"Bearer {identity(demo_api, 'acme')}"}, f"/customers/{mst}/debt"
    )
    assert acme.status_code == 200, acme.text
    assert (acme.json()["outstanding"], acme.json()["overdue"]) == expected_debt(demo_data, "acme", mst)
    globex = await get_as(
        demo_api, {"Authorization": f"Bearer {identity(demo_api, 'globex')}"}, f"/customers/{mst}/debt"
    )
    assert globex.status_code == 404, "the token's tenant decides whose rows are read"


def expired_token(key: SigningKey) -> str:
    claims = {
        "iss": "agentmesh-host",
        "aud": "agentmesh-erp-api",
        "sub": "alice",
        "tenant_id": "acme",
        "roles": [],
        "iat": 1_700_000_000,
        "exp": 1_700_000_060,
        "jti": "old",
    }
    return jwt.encode(
        claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": IDENTITY_TOKEN_TYPE}
    )


async def test_expired_misaddressed_forged_and_server_tokens_are_refused(
    demo_api: DemoApi, demo_data: dict[str, Any], tmp_path: Path
) -> None:
    mst = demo_data["tenants"]["acme"]["customers"][0]["mst"]
    real = mesh_key(settings_for(demo_api.data_dir).keys_dir)
    impostor = load_or_create_key(tmp_path / "impostor.pem", "ES256")
    forged_signature = SigningKey(impostor.private_key, "ES256", real.kid)
    server_token = mint_server_token(
        real,
        issuer="agentmesh-host",
        server="erp",
        tenant_id="acme",
        subject="alice",
        tools=["get_customer_debt"],
    )
    cases = {
        "token expired": expired_token(real),
        "token is for another audience": identity(demo_api, "acme", audience="https://crm.acme.example"),
        "token rejected: Signature verification failed": identity(demo_api, "acme", key=forged_signature),
        "token signed by an unknown key": identity(demo_api, "acme", key=impostor),
        "token is not an identity token": server_token,
        "token rejected: Invalid issuer": identity(demo_api, "acme", issuer="someone-else"),
    }
    for reason, token in cases.items():
        response = await get_as(demo_api, {"Authorization": f"Bearer {token}"}, f"/customers/{mst}/debt")
        assert f"identity token refused: {reason}" in refusal(response), reason
    unsigned = jwt.encode({"sub": "alice", "tenant_id": "acme"}, key=None, algorithm="none")  # type: ignore[arg-type]
    response = await get_as(demo_api, {"Authorization": f"Bearer {unsigned}"}, f"/customers/{mst}/debt")
    assert "token algorithm not accepted" in refusal(response)
    wrong_scheme = await get_as(
        demo_api, {"Authorization": f"Basic {identity(demo_api, 'acme')}"}, "/stock/ACM-0003"
    )
    assert "must be 'Bearer <identity token>'" in refusal(wrong_scheme)
