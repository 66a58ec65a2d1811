"""Policy documents validate what they hold: globs, JSON Schema fragments, redaction categories."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from policies.model import DataRules, NetworkRules, TenantPolicy, ToolRules


def test_a_document_with_an_unknown_section_is_refused() -> None:
    with pytest.raises(ValidationError, match="tool\n  Extra inputs are not permitted"):
        TenantPolicy.model_validate({"tenant": "acme", "tool": {"allow": ["erp:*"]}})


def test_tenant_ids_are_lower_case_names_or_the_base_star() -> None:
    assert TenantPolicy(tenant="*").label == "base"
    assert TenantPolicy(tenant="acme-vn_2").label == "acme-vn_2"
    with pytest.raises(ValidationError, match="tenant"):
        TenantPolicy(tenant="Acme Corp")


def test_globs_are_trimmed_and_may_not_be_empty_or_contain_spaces() -> None:
    assert ToolRules(allow=(" erp:* ",)).allow == ("erp:*",)
    with pytest.raises(ValidationError):
        ToolRules(allow=("",))
    with pytest.raises(ValidationError):
        ToolRules(deny=("erp: create_order",))


def test_host_globs_are_lower_case_and_never_urls() -> None:
    assert NetworkRules(allowed_hosts=("Wiki.ACME.internal",)).allowed_hosts == ("wiki.acme.internal",)
    with pytest.raises(ValidationError):
        NetworkRules(allowed_hosts=("https://wiki.acme.internal/",))


def test_an_argument_constraint_must_be_valid_json_schema() -> None:
    with pytest.raises(
        ValidationError, match="argument constraint for 'erp:create_order' is not valid JSON Schema"
    ):
        TenantPolicy(tenant="acme", arguments={"erp:create_order": {"type": "lots"}})


def test_redaction_names_built_in_categories_or_defined_identifiers() -> None:
    rules = DataRules(redact=("email", "staff_id"), identifiers={"staff_id": r"\bST-\d{4}\b"})
    assert rules.redact == ("email", "staff_id")
    with pytest.raises(ValidationError, match="unknown redaction categories \\['passport'\\]"):
        DataRules(redact=("passport",))


@pytest.mark.parametrize(
    ("identifiers", "message"),
    [
        ({"staff_id": "(unclosed"}, "not a valid regular expression"),
        ({"staff_id": "x*"}, "matches the empty string"),
        ({"Staff ID": r"\d+"}, "must be lower-case"),
        ({"email": r"\d+"}, "must be lower-case letters, digits and '_' and not one of"),
    ],
)
def test_identifiers_are_checked_when_loaded(identifiers: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DataRules(identifiers=identifiers)


def test_documents_are_immutable() -> None:
    document = TenantPolicy(tenant="acme", tools=ToolRules(allow=("erp:*",)))
    with pytest.raises(ValidationError):
        document.tenant = "globex"
    assert isinstance(document.tools.allow, tuple)
