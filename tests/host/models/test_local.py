"""The local planner: picks the fitting tool, fills it from the message or the session's memory, asks
for exactly what is missing, and composes the answer in the tool's (or the agent's) format."""

from __future__ import annotations

from typing import Any

from host.catalog import ToolSpec
from host.models.base import Message, ModelRequest
from host.models.local import LocalPlanner

MST = {
    "type": "string",
    "pattern": r"^[0-9]{10}(-[0-9]{3})?$",
    "description": "the customer's tax code (MST)",
}
DEBT_TOOLS = [
    ToolSpec(
        server="erp",
        name="get_customer_debt",
        description="Outstanding and overdue debt of a customer, by MST.",
        input_schema={"type": "object", "properties": {"mst": MST}, "required": ["mst"]},
        render={"format": "summary_text", "priority": 1},
        definition_hash="debt",
    ),
    ToolSpec(
        server="erp",
        name="get_payment_history",
        description="The payments a customer made, by MST.",
        input_schema={"type": "object", "properties": {"mst": MST}, "required": ["mst"]},
        render={
            "format": "markdown_table",
            "rows": "payments",
            "fields": ["paid_on", "amount"],
            "priority": 2,
        },
        definition_hash="payments",
    ),
]
SHIPMENT_TOOL = ToolSpec(
    server="erp",
    name="track_shipment",
    description="Where a shipment is and its delivery status.",
    input_schema={
        "type": "object",
        "properties": {
            "shipment_id": {"type": "string", "pattern": "^SH-[0-9]{4,6}$", "examples": ["SH-1042"]}
        },
        "required": ["shipment_id"],
    },
    definition_hash="track",
)
planner = LocalPlanner()


def ask(message: str, tools: list[ToolSpec], **request: Any) -> ModelRequest:
    return ModelRequest(messages=[Message(role="user", content=message)], tools=tools, **request)


def test_the_best_fitting_tool_is_called_with_the_identifier_from_the_message() -> None:
    step = planner.respond(ask("What is the debt of customer 3428557611?", DEBT_TOOLS))
    [call] = step.tool_calls
    assert (call.name, call.arguments) == ("erp__get_customer_debt", {"mst": "3428557611"})


def test_a_follow_up_reuses_the_remembered_customer() -> None:
    step = planner.respond(ask("and his payment history?", DEBT_TOOLS, memory={"mst": "3428557611"}))
    [call] = step.tool_calls
    assert (call.name, call.arguments) == ("erp__get_payment_history", {"mst": "3428557611"})


def test_a_new_identifier_in_the_message_wins_over_memory() -> None:
    step = planner.respond(
        ask("what about shipment SH-1042?", [SHIPMENT_TOOL], memory={"shipment_id": "SH-2001"})
    )
    assert step.tool_calls[0].arguments == {"shipment_id": "SH-1042"}


def test_a_missing_argument_is_asked_for_by_name_with_its_hint() -> None:
    step = planner.respond(ask("Where is my shipment?", [SHIPMENT_TOOL]))
    assert step.ending == "needs_input" and not step.tool_calls
    assert step.text == "To track shipment I need the shipment id, for example SH-1042."
    step = planner.respond(ask("What does this customer owe?", DEBT_TOOLS))
    assert step.text == "To get customer debt I need the mst, the customer's tax code (MST)."


def result(tool: ToolSpec, structured: dict[str, Any], text: str) -> ModelRequest:
    return ModelRequest(
        messages=[
            Message(role="user", content="?"),
            Message(
                role="tool",
                content=text,
                tool_call_id="1",
                tool_name=tool.external_name,
                structured=structured,
            ),
        ],
        tools=[tool],
    )


def test_a_table_tool_answers_with_a_markdown_table() -> None:
    payments = {
        "mst": "3428557611",
        "payments": [
            {"paid_on": "2024-05-02", "amount": 1500000},
            {"paid_on": "2024-06-03", "amount": 250000},
        ],
    }
    step = planner.respond(result(DEBT_TOOLS[1], payments, "2 payments"))
    assert (
        "| Paid on | Amount |\n| --- | --- |\n| 2024-05-02 | 1,500,000 |\n| 2024-06-03 | 250,000 |"
        in step.text
    )
    assert step.data == payments and step.render["format"] == "markdown_table"


def test_a_summary_tool_answers_with_its_readable_text() -> None:
    step = planner.respond(result(DEBT_TOOLS[0], {"outstanding": 5}, "Evergreen owes 5 VND."))
    assert step.text == "Evergreen owes 5 VND."


def test_the_agents_format_applies_when_the_tool_declares_none() -> None:
    tool = SHIPMENT_TOOL.model_copy(update={"render": {}})
    request = result(tool, {"events": [{"at": "09:00", "status": "picked up"}]}, '{"events": []}')
    request.output_format = "markdown_table"
    step = planner.respond(request)
    assert "| At | Status |" in step.text


def test_a_missing_identifier_is_asked_for_with_the_gist_of_its_description_and_its_example() -> None:
    tool = ToolSpec(
        server="erp",
        name="get_payment_history",
        input_schema={
            "type": "object",
            "required": ["mst"],
            "properties": {
                "mst": {
                    "type": "string",
                    "pattern": "^[0-9]{10}$",
                    "description": "Vietnamese tax code (MST) of the customer: 10 digits, e.g. 0312345678",
                }
            },
        },
    )
    step = planner.respond(ask("And his payment history?", [tool]))
    assert step.text == (
        "To get payment history I need the mst, Vietnamese tax code (MST) of the customer, "
        "for example 0312345678."
    )


def conversation(*said: str, memory: dict[str, Any] | None = None) -> ModelRequest:
    """The user's messages (with the assistant's replies between them), the last one to answer."""
    messages: list[Message] = []
    for text in said:
        messages += [Message(role="user", content=text), Message(role="assistant", content="...")]
    return ModelRequest(messages=messages[:-1], tools=DEBT_TOOLS[1:], memory=memory or {})


def test_a_follow_up_takes_the_customer_the_conversation_named_last() -> None:
    step = planner.respond(
        conversation("Debt of 3428557611?", "And of 3655097555?", "And his payment history?")
    )
    assert step.tool_calls[0].arguments == {"mst": "3655097555"}


def test_the_sessions_memory_wins_over_the_history_and_the_message_over_both() -> None:
    remembered = conversation("Debt of 3428557611?", "And his payments?", memory={"mst": "0230369893"})
    assert planner.respond(remembered).tool_calls[0].arguments == {"mst": "0230369893"}
    named = conversation("Debt of 3428557611?", "Payments of 3467871860?", memory={"mst": "0230369893"})
    assert planner.respond(named).tool_calls[0].arguments == {"mst": "3467871860"}
