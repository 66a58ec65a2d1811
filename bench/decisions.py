"""What a policy decision and a redaction cost, next to a baseline measured in the same run.

    python bench/decisions.py

The hot path of every tool call decides once (and, for answers, redacts). The baseline is
`json.dumps` of the same arguments, the least any per-call work on them costs, so the ratios
mean something on a loaded machine where absolute times do not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from agentmesh.redaction import Redactor
from policies.loader import PolicySet
from policies.model import Principal

ROUNDS = 20_000


def per_call(work: Callable[[], object]) -> float:
    work()
    started = time.perf_counter()
    for _ in range(ROUNDS):
        work()
    return (time.perf_counter() - started) / ROUNDS


def main() -> None:
    policies = PolicySet.from_directory()
    alice = Principal(tenant_id="acme", subject="alice")
    arguments = {"mst": "3428557611", "items": [{"sku": "ACM-0001", "quantity": 2}]}
    call = {"arguments": arguments, "read_only": False}
    listing = {"read_only": True}
    redactor = Redactor(categories=("email", "phone", "card", "vn_id"))
    text = "The debt of Evergreen Trading Corporation is 321,330,000 VND as of 2024-09-01. " * 4

    baseline = per_call(lambda: json.dumps(arguments))
    rows = {
        "json.dumps of the arguments (baseline)": baseline,
        "decide: listing a tool": per_call(
            lambda: policies.decide(alice, "call_tool", "erp:get_customer_debt", listing)
        ),
        "decide: a call with arguments": per_call(
            lambda: policies.decide(alice, "call_tool", "erp:create_order", call)
        ),
        "redact 320 characters of plain text": per_call(lambda: redactor.redact(text)),
    }
    for name, seconds in rows.items():
        print(f"{name:45s} {seconds * 1e6:8.2f} µs  {seconds / baseline:6.1f}x baseline")


if __name__ == "__main__":
    main()
