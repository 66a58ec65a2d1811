"""A tool configuration is validated before it can ever be served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mcp_servers.erp.tool_config import HttpToolConfig, ToolConfigFileError, builtin_tools, load_tool_file


def config(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "get_invoice",
        "description": "One invoice by number.",
        "method": "GET",
        "url": "/invoices/{number}",
        "input_schema": {
            "type": "object",
            "required": ["number"],
            "properties": {"number": {"type": "string"}},
        },
    }
    return base | changes


def problems(raw: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        HttpToolConfig.model_validate(raw)
    return str(caught.value)


def test_a_minimal_configuration_is_read_only_and_retried_once() -> None:
    tool = HttpToolConfig.model_validate(config())
    assert tool.read_only and tool.retries == 1
    assert tool.path_parameters == ["number"]
    assert tool.auth.mode == "none" and tool.output.format == "structured_json"


@pytest.mark.parametrize("name", ["has space", "dots.not.allowed", "x" * 65, "", "emoji_✓"])
def test_tool_names_must_be_valid_mcp_names(name: str) -> None:
    assert "name" in problems(config(name=name))


def test_schemas_must_be_valid_json_schemas_of_objects() -> None:
    assert "not a valid JSON Schema" in problems(
        config(input_schema={"type": "object", "required": "number"})
    )
    assert "must describe an object" in problems(config(input_schema={"type": "string"}))
    assert "output_schema" in problems(config(output_schema={"type": "array"}))


def test_url_placeholders_must_be_required_arguments() -> None:
    assert "url placeholder {customer}" in problems(config(url="/customers/{customer}"))
    optional = {"type": "object", "properties": {"number": {"type": "string"}}}
    assert "required property" in problems(config(input_schema=optional))
    assert "only appear in the path" in problems(config(url="http://{number}.example/x"))
    assert "must start with '/'" in problems(config(url="ftp://erp.example/x"))


def test_secrets_cannot_hide_in_static_headers() -> None:
    assert "carries a secret" in problems(config(headers={"Authorization": "Bearer abc"}))
    assert "carries a secret" in problems(config(headers={"X-API-Key": "abc"}))
    assert HttpToolConfig.model_validate(config(headers={"Accept-Language": "vi"})).headers


def test_service_auth_names_its_credential() -> None:
    assert "needs the name of a service credential" in problems(config(auth={"mode": "service"}))
    assert "remove 'credential'" in problems(config(auth={"mode": "user", "credential": "x"}))
    tool = HttpToolConfig.model_validate(
        config(auth={"mode": "service", "credential": "erp", "scheme": "Bearer"})
    )
    assert tool.auth.header == "X-API-Key"


def test_a_destructive_tool_is_never_retried() -> None:
    assert "never retried" in problems(config(method="POST", destructive=True, max_retries=2))
    tool = HttpToolConfig.model_validate(config(method="POST", destructive=True))
    assert tool.retries == 0 and not tool.read_only


def test_output_formats_get_what_they_need() -> None:
    assert "needs a 'summary'" in problems(config(output={"format": "summary_text"}))
    assert "hints.rows" in problems(config(output={"format": "markdown_table"}))
    assert "not a valid template" in problems(config(output={"summary": "{unclosed"}))
    assert "timeout_seconds" in problems(config(timeout_seconds=0))
    assert "unknown_field" in problems(config(unknown_field=1))


def test_the_repository_tools_load_and_declare_their_nature() -> None:
    tools = {tool.name: tool for tool in builtin_tools()}
    assert set(tools) >= {
        "get_customer_debt",
        "get_payment_history",
        "list_overdue_customers",
        "track_shipment",
        "get_shipment_events",
        "get_stock_level",
        "create_order",
    }
    assert tools["create_order"].destructive and tools["create_order"].method == "POST"
    assert all(tool.read_only for name, tool in tools.items() if name != "create_order")
    assert all(tool.output_schema is not None for tool in tools.values())
    assert all(tool.auth.mode == "service" for tool in tools.values())


def test_a_broken_yaml_file_names_the_file_and_tool(tmp_path: Path) -> None:
    path = tmp_path / "tools.yaml"
    path.write_text("tools:\n  - name: bad tool\n    description: x\n    method: GET\n")
    with pytest.raises(ToolConfigFileError, match=r"tools\.yaml: tool bad tool"):
        load_tool_file(path)
    path.write_text("tools: [\n")
    with pytest.raises(ToolConfigFileError, match="not valid YAML"):
        load_tool_file(path)
