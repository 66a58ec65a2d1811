"""Limits resolve field by field, tenant over base over defaults; input caps refuse clearly."""

from __future__ import annotations

import pytest

from policies.input_caps import InputTooLarge, check_attachment, check_message
from policies.limits import DEFAULT_LIMITS, Limits, effective_limits
from policies.loader import PolicySet
from policies.model import TenantPolicy

BASE = TenantPolicy(tenant="*", limits=Limits(max_steps=6, requests_per_minute=50, max_message_chars=100))
ACME = TenantPolicy(tenant="acme", limits=Limits(requests_per_minute=200))


def test_tenant_values_win_over_base_values_over_defaults() -> None:
    limits = effective_limits([BASE, ACME])
    assert limits.requests_per_minute == 200
    assert limits.max_steps == 6
    assert limits.max_parallel_tool_calls == DEFAULT_LIMITS.max_parallel_tool_calls
    assert limits.max_message_chars == 100


def test_the_order_documents_are_given_in_does_not_matter() -> None:
    assert effective_limits([ACME, BASE]) == effective_limits([BASE, ACME])


def test_defaults_can_come_from_the_caller() -> None:
    defaults = DEFAULT_LIMITS.model_copy(update={"tokens_per_minute": 7})
    assert effective_limits([BASE], defaults=defaults).tokens_per_minute == 7
    assert effective_limits([]) == DEFAULT_LIMITS


def test_every_rate_and_turn_limit_has_a_platform_default() -> None:
    unset = [name for name, value in DEFAULT_LIMITS.model_dump().items() if value is None]
    assert sorted(unset) == ["max_attachment_bytes", "max_message_chars", "max_tool_arguments_bytes"]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Limits(max_steps=0)


def test_demo_tenants_limits() -> None:
    demo = PolicySet.from_directory()
    assert demo.limits("globex").max_steps == 6
    assert demo.limits("globex").requests_per_minute == 60
    assert demo.limits("acme").max_steps == DEFAULT_LIMITS.max_steps
    assert demo.limits("globex").max_message_chars == 2000
    assert demo.limits("acme").max_message_chars is None
    assert demo.limits("acme").max_tool_arguments_bytes == 65536


def test_a_message_over_the_cap_is_refused_with_sizes_and_the_limit_name() -> None:
    limits = effective_limits([BASE, ACME])
    check_message(limits, "x" * 100)
    with pytest.raises(InputTooLarge) as refused:
        check_message(limits, "x" * 1234)
    assert str(refused.value) == (
        "the message is 1,234 characters; at most 100 characters are accepted "
        "(policy limit max_message_chars)"
    )
    assert refused.value.code == "too_large"
    assert refused.value.details == {"size": 1234, "limit": 100, "limit_name": "max_message_chars"}


def test_attachments_are_capped_only_where_a_policy_sets_a_cap() -> None:
    check_attachment(DEFAULT_LIMITS, "scan.pdf", 10**9)
    capped = Limits(max_attachment_bytes=1000)
    check_attachment(capped, "scan.pdf", 1000)
    refusal = r"the attachment 'scan\.pdf' is 1,001 bytes; at most 1,000 bytes"
    with pytest.raises(InputTooLarge, match=refusal):
        check_attachment(capped, "scan.pdf", 1001)
