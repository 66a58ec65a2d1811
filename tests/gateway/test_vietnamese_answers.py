"""A Vietnamese user is answered in Vietnamese, through the chat API, on the shipped agents and the
local planner: with and without diacritics, amounts as `321.330.000 ₫` and dates as
`30/06/2025`, the right ERP tool for debt, payment, shipment, stock and order phrasings, and
clarifications in Vietnamese. An English user keeps the English answers."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.mesh import Mesh, tools_called

pytestmark = pytest.mark.slow

ACME_MST = "3428557611"
DEBT_VI = (
    "Evergreen Trading Corporation (MST 3428557611) còn nợ 321.330.000 ₫ tính đến ngày 30/06/2025; "
    "trong đó 99.700.000 ₫ đã quá hạn và 221.630.000 ₫ chưa đến hạn (3 hóa đơn còn mở)."
)


def ask(mesh: Mesh, message: str) -> dict[str, object]:
    return mesh.answer(message)


@pytest.mark.parametrize(
    "question",
    [
        f"Công nợ của khách hàng có MST {ACME_MST} là bao nhiêu?",
        f"Cong no cua khach hang co MST {ACME_MST} la bao nhieu?",
    ],
    ids=["diacritics", "no-diacritics"],
)
def test_a_debt_question_is_answered_in_vietnamese_with_vietnamese_amounts_and_dates(
    mesh: Mesh, question: str
) -> None:
    answer = ask(mesh, question)
    assert answer["agent"] == "debt" and answer["outcome"] == "answered"
    assert answer["answer"] == DEBT_VI


@pytest.mark.parametrize(
    "question",
    ["Khách hàng 3655097555 còn nợ bao nhiêu tiền?", "Khach hang 3655097555 con no bao nhieu tien?"],
    ids=["diacritics", "no-diacritics"],
)
def test_how_much_a_customer_still_owes_is_the_debt_not_the_payments(mesh: Mesh, question: str) -> None:
    answer = ask(mesh, question)
    assert tools_called(answer) == ["get_customer_debt"]
    assert "còn nợ 318.780.000 ₫" in str(answer["answer"])


def test_payments_shipments_and_stock_answer_in_vietnamese(mesh: Mesh) -> None:
    payments = ask(mesh, f"Lịch sử thanh toán của khách hàng {ACME_MST}")
    assert tools_called(payments) == ["get_payment_history"]
    assert str(payments["answer"]).startswith(
        "Evergreen Trading Corporation (MST 3428557611) đã thanh toán 377.960.000 ₫ qua 4 lần."
    )
    assert "| Ngày thanh toán |" in str(payments["answer"]) and "| 13/06/2025 |" in str(payments["answer"])

    shipment = ask(mesh, "Van don SH-1001 dang o dau?")
    assert tools_called(shipment) == ["track_shipment"]
    assert str(shipment["answer"]).startswith(
        "Vận đơn SH-1001 của Harbor Point Construction Corporation đã giao"
    )

    stock = ask(mesh, "Tồn kho của mã hàng ACM-0001 còn bao nhiêu?")
    assert tools_called(stock) == ["get_stock_level"]
    assert "có thể bán 388 cây" in str(stock["answer"]) and "| Kho | Tồn kho |" in str(stock["answer"])


def test_a_missing_tax_code_is_asked_for_in_vietnamese(mesh: Mesh) -> None:
    answer = ask(mesh, "Công nợ của khách hàng là bao nhiêu?")
    assert answer["outcome"] == "needs_input"
    assert answer["answer"] == "Để tra công nợ khách hàng, tôi cần mã số thuế (MST), ví dụ 0312345678."


@pytest.mark.parametrize(
    ("question", "waiting"),
    [
        (
            f"Create an order for MST {ACME_MST}: 2 units of ACM-0001",
            "Create order needs approval by an authorised person before it can run.",
        ),
        (
            f"Tạo đơn hàng cho MST {ACME_MST}: 2 cái ACM-0001",
            "Yêu cầu tạo đơn hàng cần được người có thẩm quyền phê duyệt trước khi thực hiện.",
        ),
        (
            f"Tao don hang cho MST {ACME_MST} gom ACM-0001 x 2",
            "Yêu cầu tạo đơn hàng cần được người có thẩm quyền phê duyệt trước khi thực hiện.",
        ),
    ],
    ids=["english", "diacritics", "no-diacritics"],
)
def test_a_request_to_order_proposes_the_order_and_waits_for_approval(
    mesh: Mesh, question: str, waiting: str
) -> None:
    answer = ask(mesh, question)
    assert answer["agent"] == "shipment" and answer["outcome"] == "pending_approval"
    assert answer["answer"] == waiting
    steps = answer["steps"]
    assert isinstance(steps, list)
    [pending] = [step for step in steps if step["tool"] == "create_order"]
    assert pending["arguments"] == {"mst": ACME_MST, "items": [{"sku": "ACM-0001", "quantity": 2}]}


def test_an_english_question_keeps_the_english_answer(mesh: Mesh) -> None:
    answer = ask(mesh, f"What does customer {ACME_MST} owe?")
    assert answer["answer"] == (
        "Evergreen Trading Corporation (MST 3428557611) owes 321,330,000 VND as of 2025-06-30; "
        "99,700,000 VND of it is overdue and 221,630,000 VND is not yet due (3 open invoices)."
    )


def test_an_english_stock_question_reads_as_a_sentence_and_a_table(mesh: Mesh) -> None:
    stock = ask(mesh, "How much stock of ACM-0001 do we have?")
    assert tools_called(stock) == ["get_stock_level"]
    answer = str(stock["answer"])
    assert answer.startswith("ACM-0001 ") and "388 cây available (398 on hand, 10 reserved)" in answer
    assert "| Warehouse | On hand | Reserved | Available |" in answer
    assert "Sku:" not in answer, "no field-by-field list when the tool words its result"


@pytest.mark.parametrize(
    ("question", "opening", "example"),
    [
        ("Book me a flight to Da Nang", "I can't help with that here. What I can do:\n", "e.g. “"),
        (
            "Đặt vé máy bay đi Đà Nẵng cho tôi",
            "Tôi không hỗ trợ được yêu cầu này. Tôi có thể giúp:\n",
            "ví dụ “",
        ),
        ("Dat ve may bay di Da Nang", "Tôi không hỗ trợ được yêu cầu này. Tôi có thể giúp:\n", "ví dụ “"),
    ],
    ids=["english", "diacritics", "no-diacritics"],
)
def test_an_out_of_scope_request_is_told_what_the_assistants_can_do(
    mesh: Mesh, question: str, opening: str, example: str
) -> None:
    answer = ask(mesh, question)
    assert answer["agent"] is None and answer["outcome"] == "clarify"
    text = str(answer["answer"])
    assert text.startswith(opening)
    # One line per assistant, by the title its readers know it by, with an example in their language.
    offered = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(offered) == 5 and all(example in line for line in offered)
    titles = {
        "en": [
            "Customer debt",
            "Shipments and orders",
            "Company policies",
            "Read images and documents",
            "Web search",
        ],
        "vi": [
            "Công nợ khách hàng",
            "Giao hàng và đơn hàng",
            "Chính sách công ty",
            "Đọc ảnh và tài liệu",
            "Tìm kiếm trên mạng",
        ],
    }["vi" if example == "ví dụ “" else "en"]
    assert sorted(line[2:].split(",")[0] for line in offered) == sorted(titles)


@pytest.mark.parametrize(
    ("message", "opening", "example"),
    [
        ("Hello!", "Hello! I can help with:\n", "e.g. “"),
        ("Xin chào", "Xin chào! Tôi có thể giúp:\n", "ví dụ “"),
        ("xin chao ban", "Xin chào! Tôi có thể giúp:\n", "ví dụ “"),
        ("What can you do?", "Here is what I can do:\n", "e.g. “"),
        ("Bạn làm được gì?", "Tôi có thể giúp:\n", "ví dụ “"),
        ("ban lam duoc gi", "Tôi có thể giúp:\n", "ví dụ “"),
    ],
)
def test_a_greeting_or_what_can_you_do_is_told_what_the_assistants_do(
    mesh: Mesh, message: str, opening: str, example: str
) -> None:
    answer = ask(mesh, message)
    assert answer["agent"] is None and answer["outcome"] == "clarify", answer
    text = str(answer["answer"])
    assert text.startswith(opening)
    assert len([line for line in text.splitlines() if line.startswith("- ") and example in line]) == 5


def test_thanks_after_an_answer_is_welcomed_in_the_conversation_s_language(mesh: Mesh) -> None:
    first = ask(mesh, f"Công nợ của khách hàng có MST {ACME_MST} là bao nhiêu?")
    thanks = mesh.chat("cam on nhe", session_id=first["session_id"]).json()
    assert thanks["agent"] is None and thanks["answer"] == "Không có gì! Bạn cần tôi giúp thêm gì không?"
    bye = mesh.chat("Thanks, bye!").json()
    assert bye["answer"] == "Goodbye! Ask again whenever you need me."


def test_a_greeting_with_a_question_is_the_question(mesh: Mesh) -> None:
    answer = ask(mesh, f"Chào bạn, công nợ của khách hàng có MST {ACME_MST} là bao nhiêu?")
    assert answer["agent"] == "debt" and answer["answer"] == DEBT_VI


@pytest.mark.parametrize(
    ("question", "said"),
    [
        (
            "Công nợ của khách hàng có MST 9999999999 là bao nhiêu?",
            "Tôi không tìm thấy dữ liệu nào khớp với 9999999999.",
        ),
        ("What is the debt for customer MST 9999999999?", "I found no record matching 9999999999."),
        ("Đơn hàng SH-9999 đang ở đâu?", "Tôi không tìm thấy dữ liệu nào khớp với SH-9999."),
    ],
    ids=["debt-vi", "debt-en", "shipment-vi"],
)
def test_a_record_that_does_not_exist_is_not_found_in_the_reader_s_language(
    mesh: Mesh, question: str, said: str
) -> None:
    answer = ask(mesh, question)
    assert answer["outcome"] == "not_found" and answer["answer"] == said, answer


@pytest.mark.parametrize(
    ("question", "said"),
    [
        (
            f"Tạo đơn hàng cho MST {ACME_MST}: 2 cái ACM-9999",
            f"Tôi không tìm thấy dữ liệu nào khớp với {ACME_MST}, ACM-9999.",
        ),
        (
            f"Create an order for MST {ACME_MST}: 2 units of ACM-9999",
            f"I found no record matching {ACME_MST}, ACM-9999.",
        ),
    ],
    ids=["vi", "en"],
)
def test_an_approved_order_for_an_unknown_item_says_what_it_looked_up(
    mesh: Mesh, question: str, said: str
) -> None:
    paused = mesh.chat(question, user="orderer").json()
    assert paused["outcome"] == "pending_approval", paused
    approver = {"Authorization": f"Bearer {mesh.token('acme', 'ada', ['tenant_admin'])}"}
    # The inbox tells the approver what the call does in either language, by the tool's titles.
    inbox = httpx.get(f"{mesh.url}/api/admin/tenants/acme/approvals", headers=approver, timeout=30).json()
    [waiting] = [item for item in inbox["items"] if item["id"] == paused["approval_id"]]
    titles = waiting["calls"][0]["titles"]
    assert titles["en"] == "Create order" and titles["vi"].casefold() == "tạo đơn hàng", titles
    resumed = httpx.post(
        f"{mesh.url}/api/admin/tenants/acme/approvals/{paused['approval_id']}/approve",
        headers=approver,
        timeout=30,
    ).json()
    # The order's lines are told by their SKUs, never as a Python list of dicts.
    assert resumed["outcome"] == "not_found" and resumed["answer"] == said, resumed


def test_a_bare_tax_code_is_answered_in_the_language_the_client_reads(mesh: Mesh) -> None:
    # The console sends its interface language: the message alone cannot tell.
    vietnamese = mesh.chat(f"MST {ACME_MST}", language="vi").json()
    assert vietnamese["agent"] == "debt" and vietnamese["answer"] == DEBT_VI
    english = mesh.chat(f"MST {ACME_MST}", language="en").json()
    assert english["answer"].startswith("Evergreen Trading Corporation (MST 3428557611) owes 321,330,000 VND")
    # The message's own language comes first.
    assert mesh.chat(f"Cong no MST {ACME_MST}", language="en").json()["answer"] == DEBT_VI


def test_an_assistant_the_tenant_lacks_is_named_by_its_title(mesh: Mesh) -> None:
    answer = mesh.chat("Đơn hàng SH-1042 đang ở đâu?", tenant="globex", user="bob").json()
    assert answer["outcome"] == "unavailable"
    assert answer["answer"] == (
        "Trợ lý “Giao hàng và đơn hàng” không khả dụng cho tổ chức của bạn. "
        "Các trợ lý hiện có: Công nợ khách hàng, Chính sách công ty."
    )


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("Đơn hàng SO-A5001 thế nào rồi?", "Đơn hàng SO-A5001 ("),
        ("What is the status of order SO-A5001?", "Order SO-A5001 ("),
    ],
    ids=["vi", "en"],
)
def test_an_order_is_looked_up_by_its_id(mesh: Mesh, question: str, said: str) -> None:
    answer = ask(mesh, question)
    assert answer["agent"] == "shipment" and tools_called(answer) == ["get_order"], answer
    assert answer["outcome"] == "answered" and str(answer["answer"]).startswith(said), answer["answer"]
