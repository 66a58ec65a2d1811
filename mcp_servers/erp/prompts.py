"""The ERP server's prompts: a question about one customer, shipment or stock item, in English or
Vietnamese, for a person to pick in their MCP client (with the id completed from their ERP).

Each prompt is named after the tool that answers it, so the gateway offers it to exactly the
tenants whose policy lets them use that tool.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["en", "vi"]
LANGUAGES: tuple[Language, ...] = ("en", "vi")

QUESTIONS: dict[str, dict[Language, str]] = {
    "get_customer_debt": {
        "en": "What is the debt of the customer with MST {mst}? Give the outstanding and overdue amounts.",
        "vi": "Công nợ của khách hàng có MST {mst} là bao nhiêu? Cho biết số còn nợ và số đã quá hạn.",
    },
    "track_shipment": {
        "en": "Where is shipment {shipment_id}? Give its status and latest events.",
        "vi": "Lô hàng {shipment_id} đang ở đâu? Cho biết trạng thái và các sự kiện mới nhất.",
    },
    "get_stock_level": {
        "en": "How many units of {sku} are in stock, and is it below its reorder point?",
        "vi": "Trong kho còn bao nhiêu {sku}, và đã xuống dưới mức đặt hàng lại chưa?",
    },
}


def question(prompt: str, language: Language, **arguments: str) -> str:
    return QUESTIONS[prompt][language].format(**arguments)
