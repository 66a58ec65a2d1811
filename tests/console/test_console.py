"""The web console in a real browser, against the whole mesh as `make run` starts it.

The tests run in order, as people would use the console: a user asks a Vietnamese debt question
and a follow-up, has a receipt read; an admin adds an ERP tool and an agent and the user chats
with it at once; an order waits for an admin's approval and completes live in the user's window;
the usage page counts those turns; a hostile document stays inert; a globex user sees none of
acme's data. The screenshots in the README are taken here (`docs/screenshots/`).
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.console.assets import CONTENT_SECURITY_POLICY
from tests.console.browser import Browser
from tests.console.conftest import ACME_MST
from tests.mcp_servers.ocr.rendering import encoded, text_image
from tests.support.fake_openai import FakeOpenAI
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow

DEBT_QUESTION_VI = f"Công nợ của khách hàng có MST {ACME_MST} là bao nhiêu?"
FOLLOW_UP_VI = "Còn lịch sử thanh toán thì sao?"
PROFILE_TOOL = "acme_customer_profile"
PROFILE_TOOL_DESCRIPTION = "A customer's master data (name, address, contact, credit terms) by MST tax code."
PROFILE_AGENT = "profiles"
PROFILE_AGENT_DESCRIPTION = (
    "Customer master data from the ERP: name, address, contact and credit terms by MST."
)
PROFILE_AGENT_EXAMPLES = (
    "Show the customer profile of MST 0123456789",
    "What is the address of customer 0312345678?",
)
ACME_CUSTOMER = "Evergreen Trading Corporation"
RECEIPT_LINES = [
    "EVERGREEN MART",
    "123 Le Loi, District 1",
    ("Date:", "15/03/2025"),
    ("Coffee x2", "90,000"),
    ("TOTAL", "125,000"),
]
PROFILE_QUESTION = f"Show the customer profile of MST {ACME_MST}"
ORDER_QUESTION = f"Please order 2 units of ACM-0001 for customer MST {ACME_MST}"
HOSTILE_ID = "hostile-procedure"
HOSTILE_DOCUMENT = """# Hostile procedure

Pallets are wrapped in violet film before they leave the depot.

<script>window.__pwned = "script";</script>
<img src="x" onerror="window.__pwned = 'img'">
[Open me](javascript:window.__pwned='link')
<iframe src="https://example.org"></iframe>
"""
LLM_KEY = "sk-console-browser-test-0001"
LIFECYCLE_TENANT = "initech"

# Ids met along the way, for the isolation test at the end.
seen: dict[str, Any] = {"acme_sessions": set()}


def assistant_blocks(browser: Browser) -> list[Any]:
    return browser.all(".msg.assistant")


def wait_for_answer(browser: Browser, count: int, outcome: str = "answered") -> Any:
    """The `count`-th answer of the conversation, once it has ended with `outcome`."""

    def ended(driver: Any) -> Any:
        blocks = assistant_blocks(browser)
        if len(blocks) >= count and blocks[count - 1].get_attribute("data-outcome"):
            return blocks[count - 1]
        return False

    block = browser.wait(ended, message=f"answer {count} did not end")
    assert block.get_attribute("data-outcome") == outcome, block.text
    return block


def ask(browser: Browser, message: str) -> None:
    box = browser.type("#message", message)
    box.send_keys("\n")


def session_in_url(browser: Browser) -> str:
    match = re.search(r"/chat/([A-Za-z0-9_-]+)$", browser.driver.current_url)
    assert match, browser.driver.current_url
    return match.group(1)


def admin_page(browser: Browser, page: str, tenant: str = "acme") -> None:
    browser.open(f"/admin/{page}?tenant={tenant}")
    browser.find(f"[data-admin-page='{page}']")


def test_the_console_is_served_with_a_strict_content_security_policy(mesh: WholeMesh) -> None:
    for path in ("/", "/chat", "/admin/agents", "/docs", "/signin", "/console/static/js/app.js"):
        response = httpx.get(f"{mesh.url}{path}")
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        again = httpx.get(f"{mesh.url}{path}", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
    index = httpx.get(f"{mesh.url}/").text
    assert '<script type="module" src="/console/static/js/app.js">' in index
    assert "style=" not in index and "onclick" not in index.lower()


def test_a_new_user_lands_on_the_sign_in_page_with_the_demo_users(user: Browser) -> None:
    user.open("/")
    user.wait(lambda driver: "/signin" in driver.current_url)
    offered = {button.get_attribute("data-user") for button in user.all("button[data-user]")}
    assert offered == {"acme-user", "acme-admin", "globex-user", "platform-admin"}
    cookies = user.driver.get_cookies()
    assert not cookies, "nothing is stored before signing in"


def test_a_vietnamese_debt_question_is_answered_with_a_table_and_its_steps(user: Browser) -> None:
    user.sign_in("acme-user", "/chat")
    user.select("#language", "vi")
    user.wait(lambda driver: user.text("#send") == "Gửi", message="the interface stayed in English")
    assert user.script("return document.documentElement.lang") == "vi"
    [cookie] = [c for c in user.driver.get_cookies() if c["name"] == "agentmesh_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert user.script("return window.localStorage.length + window.sessionStorage.length") == 0
    # The assistants as a Vietnamese reader knows them: titles, summaries and examples in Vietnamese.
    user.wait(lambda driver: "Công nợ khách hàng" in [card.text for card in user.all(".agent-card strong")])
    debt = next(card for card in user.all(".agent-card") if "Công nợ khách hàng" in card.text)
    assert "theo MST" in debt.find_element("css selector", "p").text
    assert "Giao hàng và đơn hàng" in [option.text for option in user.all("#agent-select option")]
    # The questions offered are acme's own, about its own customers: clicked, one is asked as is.
    example = debt.find_element("css selector", ".chip.example")
    assert example.text == DEBT_QUESTION_VI
    example.click()
    assert user.find("#message").get_attribute("value") == DEBT_QUESTION_VI
    user.find("#message").send_keys("\n")
    block = wait_for_answer(user, 1)
    seen["acme_sessions"].add(session_in_url(user))
    assert block.find_element("css selector", ".step-route [data-agent='debt']")
    tool = block.find_element("css selector", ".step-tool")
    assert tool.find_element("css selector", "code.tool-name").text == "erp:get_customer_debt"
    assert tool.find_element("css selector", "[data-rule]").text == "acme:tools.allow[erp:*]"
    assert "3428557611" in tool.find_element("css selector", ".arguments").text
    assert float(tool.get_attribute("data-duration")) > 0
    assert block.find_element("css selector", "[data-outcome='answered']")

    # The open invoices as a table (Vietnamese number format), sortable on the hinted columns.
    assert block.find_element("css selector", "dd[data-field='outstanding']").text == "321.330.000"
    rows = block.find_elements("css selector", "table.records tbody tr")
    assert len(rows) == 3
    assert rows[0].find_elements("css selector", "td")[0].text == "ACM-2025-00007"
    # In the tool's Vietnamese wording: labels, coded values and dates as a Vietnamese reader writes them.
    assert block.find_element("css selector", "dl.facts dt").text == "Công nợ"
    assert block.find_element("css selector", "table.records caption").text == "Hóa đơn còn mở"
    headers = [th.text for th in block.find_elements("css selector", "table.records thead th")]
    assert headers[0].startswith("Số hóa đơn") and any(h.startswith("Trạng thái") for h in headers)
    cells = [td.text for td in rows[0].find_elements("css selector", "td")]
    assert "chưa thanh toán" in cells and "15/04/2025" in cells
    sorter = block.find_element("css selector", "button.sort[data-column='days_overdue']")
    sorter.click()
    first = block.find_element("css selector", "table.records tbody tr td").text
    assert first != "ACM-2025-00007"  # ascending: the overdue invoice moves to the end
    assert sorter.find_element("xpath", "..").get_attribute("aria-sort") == "ascending"
    sorter.click()
    assert block.find_element("css selector", "table.records tbody tr td").text == "ACM-2025-00007"
    user.driver.set_window_size(1360, 1240)
    user.script("document.querySelector('.msg.user').scrollIntoView({block: 'start'})")
    user.screenshot("chat")
    user.driver.set_window_size(1360, 960)


def test_a_reloaded_conversation_draws_its_answers_as_they_first_were(user: Browser) -> None:
    session = session_in_url(user)
    user.driver.refresh()
    block = wait_for_answer(user, 1)
    assert session_in_url(user) == session
    assert block.find_element("css selector", "dd[data-field='outstanding']").text == "321.330.000"
    assert len(block.find_elements("css selector", "table.records tbody tr")) == 3
    assert block.find_element("css selector", "table.records caption").text == "Hóa đơn còn mở"


def test_a_follow_up_stays_in_the_same_session(user: Browser) -> None:
    session = session_in_url(user)
    box = user.find("#message")
    box.send_keys("dòng một")
    from selenium.webdriver.common.keys import Keys

    box.send_keys(Keys.SHIFT, Keys.ENTER)
    assert "\n" in box.get_attribute("value"), "Shift+Enter starts a new line instead of sending"
    assert len(assistant_blocks(user)) == 1
    box.clear()
    ask(user, FOLLOW_UP_VI)
    block = wait_for_answer(user, 2)
    assert session_in_url(user) == session
    tool = block.find_element("css selector", ".step-tool")
    assert tool.find_element("css selector", "code.tool-name").text == "erp:get_payment_history"
    assert ACME_MST in tool.find_element("css selector", ".arguments").text  # remembered, not typed
    assert block.find_elements("css selector", "table.records tbody tr")
    listed = user.find(f".session-list li[data-session='{session}']")
    assert "4" in listed.text  # one session, four messages


def test_the_chat_is_usable_from_the_keyboard(user: Browser) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    focused = "return document.activeElement.id"
    user.find("#message").click()
    order = []
    for _ in range(3):
        ActionChains(user.driver).send_keys(Keys.TAB).perform()
        order.append(user.script(focused))
    assert order == ["agent-select", "attach", "send"], order
    ActionChains(user.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert user.script(focused) == "attach"
    # The hidden file input shows its focus on the "Attach" label that stands for it.
    assert (
        user.script("return getComputedStyle(document.getElementById('attach-label')).outlineStyle")
        == "solid"
    )
    assert user.all(".answer-slot[aria-live='polite']"), "answers are announced as they arrive"
    assert user.present("label[for='message']").get_attribute("textContent")


def test_a_receipt_image_is_read_by_the_ocr_agent(user: Browser, tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.png"
    image = text_image(RECEIPT_LINES)
    receipt.write_bytes(encoded(image, "PNG"))
    user.click("#new-chat")
    user.wait(lambda driver: driver.current_url.endswith("/chat"))
    user.present("#attach").send_keys(str(receipt))
    user.find(".chip[data-attachment='receipt.png'] img")
    ask(user, "What is the total on this receipt?")
    block = wait_for_answer(user, 1)
    seen["acme_sessions"].add(session_in_url(user))
    label = block.find_element("css selector", ".agent-label")
    assert label.get_attribute("data-agent") == "ocr"
    assert label.get_attribute("textContent") in ("Read images and documents", "Đọc ảnh và tài liệu")
    tool = block.find_element("css selector", ".step-tool")
    assert tool.find_element("css selector", "code.tool-name").text.startswith("ocr:")
    arguments = tool.find_element("css selector", ".arguments").text
    assert "upload://" in arguments and len(arguments) < 200  # the image by reference, not its base64
    assert block.find_element("css selector", "dd[data-field='total']").text.startswith("125.000")
    assert "receipt.png" in user.find(".msg.user .attachments").text


def test_an_admin_adds_an_erp_tool_and_an_agent_and_a_user_chats_with_it_at_once(
    admin: Browser, user: Browser
) -> None:
    admin.sign_in("platform-admin", "/admin")
    admin_page(admin, "tools")
    admin.type("#tool-name", PROFILE_TOOL)
    admin.type("#tool-description", PROFILE_TOOL_DESCRIPTION)
    admin.type("#tool-url", "/customers/{mst}")
    admin.select("#tool-auth", "service")
    admin.type("#tool-credential", "demo-erp")
    admin.select("#tool-format", "structured_json")
    admin.type("#tool-fields", "name, city, credit_limit, payment_terms_days")
    admin.find(".schema-preview input[name='mst']")  # the input schema previewed as a form
    admin.click("#tool-save")
    admin.find("#tool-status [data-live='true']")
    admin.find(f"#tools-table tr[data-tool='{PROFILE_TOOL}']")

    admin.select("#test-tool", PROFILE_TOOL)
    admin.type("#test-form input[name='mst']", ACME_MST)
    admin.click("#test-run")
    outcome = admin.find("#test-result .test-outcome")
    assert outcome.get_attribute("data-error") == "false", outcome.text
    assert outcome.find_element("css selector", "dd[data-field='name']").text == ACME_CUSTOMER
    admin.script("document.getElementById('tool-test').scrollIntoView({block: 'center'})")
    admin.screenshot("admin-tools")

    admin_page(admin, "agents")
    admin.type("#agent-name", PROFILE_AGENT)
    admin.type("#agent-description", PROFILE_AGENT_DESCRIPTION)
    admin.type("#agent-examples", "\n".join(PROFILE_AGENT_EXAMPLES))
    admin.type("#agent-keywords", "profile\naddress\ncontact")
    admin.type("#agent-tools", f"erp:{PROFILE_TOOL}")
    admin.click("#agent-save")
    row = admin.find(f"#agents-table tr[data-agent='{PROFILE_AGENT}']")
    assert "not enabled" in row.text
    admin.click(f"button[data-enable='{PROFILE_AGENT}']")
    admin.wait(
        lambda driver: (
            "enabled" in admin.find(f"#agents-table tr[data-agent='{PROFILE_AGENT}']").text
            and not admin.all(f"button[data-enable='{PROFILE_AGENT}']")
        )
    )
    admin.type("#routing-message", PROFILE_QUESTION)
    admin.click("#routing-try")
    decision = admin.find(f".routing-decision[data-agent='{PROFILE_AGENT}']")
    assert decision.find_element("css selector", f"[data-candidate='{PROFILE_AGENT}']")
    admin.driver.set_window_size(1360, 1240)
    admin.script("arguments[0].scrollIntoView({block: 'center'})", decision)
    admin.screenshot("admin-agents")
    admin.driver.set_window_size(1360, 960)

    user.click("#new-chat")
    user.wait(lambda driver: driver.current_url.endswith("/chat"))
    ask(user, PROFILE_QUESTION)
    block = wait_for_answer(user, 1)
    seen["acme_sessions"].add(session_in_url(user))
    assert block.find_element("css selector", f".step-route [data-agent='{PROFILE_AGENT}']")
    assert block.find_element("css selector", "code.tool-name").text == f"erp:{PROFILE_TOOL}"
    assert ACME_CUSTOMER in block.text


def test_an_admin_sets_the_questions_acme_users_see_under_an_assistant(admin: Browser, user: Browser) -> None:
    admin_page(admin, "agents")
    admin.wait(
        lambda driver: "knowledge" in [o.get_attribute("value") for o in admin.all("#suggest-agent option")]
    )
    admin.select("#suggest-agent", "knowledge")
    admin.wait(lambda driver: "examples" in admin.text("#suggest-status"), message="no examples shown")
    admin.type("#suggest-questions", "How many days do customers have to return goods?")
    admin.click("#suggest-save")
    admin.wait(lambda driver: admin.text("#suggest-status") == "Your organisation's questions.")

    user.open("/chat")
    reading = user.find("#language").get_attribute("value")
    user.select("#language", "en")
    user.wait(
        lambda driver: (
            "How many days do customers have to return goods?"
            in [chip.text for chip in user.all(".agent-card .chip.example")]
        ),
        message="the welcome page does not offer the admin's question",
    )
    user.select("#language", reading)
    admin.type("#suggest-questions", "")
    admin.click("#suggest-save")
    admin.wait(lambda driver: "examples" in admin.text("#suggest-status"))


def test_chart_data_is_drawn_as_a_chart_with_its_table(admin: Browser, mesh: WholeMesh) -> None:
    chart_tool = {
        "name": "acme_payment_chart",
        "description": "A customer's payments by MST, for a chart.",
        "method": "GET",
        "url": "/customers/{mst}/payments",
        "input_schema": {"type": "object", "required": ["mst"], "properties": {"mst": {"type": "string"}}},
        "auth": {"mode": "service", "credential": "demo-erp"},
        "output": {"format": "chart_data", "hints": {"rows": "payments", "fields": ["invoice_no", "amount"]}},
    }
    platform = mesh.headers("platform", "root", "platform_admin")
    created = mesh.request("POST", "/api/admin/tenants/acme/erp/tools", platform, chart_tool)
    assert created.status_code == 201 and created.json()["live"], created.text
    admin_page(admin, "tools")
    admin.select("#test-tool", "acme_payment_chart")
    admin.type("#test-form input[name='mst']", ACME_MST)
    admin.click("#test-run")
    outcome = admin.find("#test-result .test-outcome")
    bars = outcome.find_elements("css selector", "svg.chart .bar")
    rows = outcome.find_elements("css selector", "table.records tbody tr")
    assert bars and len(bars) == len(rows)
    assert all(float(bar.get_attribute("data-value")) > 0 for bar in bars)


def test_an_order_waits_for_approval_and_completes_live_when_an_admin_approves(
    admin: Browser, user: Browser, mesh: WholeMesh, llm: FakeOpenAI
) -> None:
    assert llm.base_url is not None
    orders_before = dict((row[0], row[1]) for row in mesh.orders())
    admin_page(admin, "llm")
    admin.wait(lambda driver: "No LLM configured" in admin.text("#llm-current"))
    assert not admin.find("#llm-remove").is_enabled()
    admin.select("#llm-provider", "openai")
    admin.type("#llm-model", "gpt-4o-mini")
    admin.type("#llm-base-url", llm.base_url)
    admin.type("#llm-key", LLM_KEY)
    admin.click("#llm-save")
    admin.wait(lambda driver: admin.text("#llm-key-hint").endswith("0001)"))
    assert admin.find("#llm-key").get_attribute("value") == ""  # write-only: never shown back

    user.click("#new-chat")
    user.wait(lambda driver: driver.current_url.endswith("/chat"))
    user.select("#agent-select", "shipment")
    ask(user, ORDER_QUESTION)
    block = wait_for_answer(user, 1, outcome="pending_approval")
    seen["acme_sessions"].add(session_in_url(user))
    card = block.find_element("css selector", ".approval-card[data-state='pending']")
    approval_id = card.get_attribute("data-approval")

    admin_page(admin, "approvals")
    pending = admin.find(f"article.approval[data-approval='{approval_id}']")
    assert "erp:create_order" in pending.text and "ACM-0001" in pending.text
    assert pending.find_element("css selector", ".call-title .tool-title").text == "Create order"
    why = pending.find_element("css selector", "[data-rule='base:tools.approve[erp:create_order]']").text
    assert why == (
        "Waits for a person's approval under the rule “erp:create_order” of the platform's base policy."
    )
    admin.click(f"button[data-approve='{approval_id}']")
    admin.find("#approval-outcome .resumed-outcome[data-outcome='answered']")

    # The user's window completes by itself: nothing was reloaded or clicked there.
    user.wait(lambda driver: card.get_attribute("data-state") == "decided", message="the card stayed pending")
    resumed = user.find(".msg.assistant.resumed[data-outcome='answered']")
    assert resumed.find_element("css selector", "code.tool-name").text == "erp:create_order"
    assert "Done. Order" in resumed.text
    orders_after = dict((row[0], row[1]) for row in mesh.orders())
    assert orders_after["acme"] == orders_before.get("acme", 0) + 1

    admin_page(admin, "llm")
    admin.click("#llm-remove")
    admin.click("button[data-confirm='yes']")
    admin.find("#llm-current .notice")


def test_the_usage_chart_counts_those_turns(admin: Browser, mesh: WholeMesh) -> None:
    platform = mesh.headers("platform", "root", "platform_admin")
    summary = mesh.request("GET", "/api/admin/tenants/acme/usage", platform).json()
    # debt, follow-up, receipt, profile, order paused and order resumed
    assert summary["totals"]["requests"] >= 6
    admin_page(admin, "usage")
    bars = admin.wait(lambda driver: admin.all("#usage-by-day .bar") or False)
    assert sum(float(bar.get_attribute("data-value")) for bar in bars) == summary["totals"]["requests"]
    by_agent = {
        bar.get_attribute("data-label"): float(bar.get_attribute("data-value"))
        for bar in admin.all("#usage-by-agent .bar")
    }
    # Agents by their titles (the new agent has none: its name).
    for agent in ("Customer debt", "Read images and documents", PROFILE_AGENT, "Shipments and orders"):
        assert by_agent.get(agent, 0) >= 1, by_agent
    assert by_agent["Shipments and orders"] >= 2  # the paused turn and the resumed one
    assert admin.text("#usage-totals [data-measure='requests'] strong") == str(summary["totals"]["requests"])
    assert "$50.00" in admin.text("#usage-totals [data-measure='budget']")


def test_a_hostile_document_is_rendered_inert(admin: Browser, user: Browser, tmp_path: Path) -> None:
    hostile = tmp_path / f"{HOSTILE_ID}.md"
    hostile.write_text(HOSTILE_DOCUMENT)
    admin_page(admin, "knowledge")
    admin.find("#upload-file").send_keys(str(hostile))
    admin.type("#upload-id", HOSTILE_ID)
    admin.click("#upload-send")
    job = admin.find("#upload-progress .job[data-state='succeeded']")  # a job: its progress shown live
    assert float(job.find_element("css selector", "progress").get_attribute("value")) == 1
    admin.click(f"button[data-view='{HOSTILE_ID}']")
    text = admin.find(".dialog .document-text")
    assert '<script>window.__pwned = "script";</script>' in text.text
    assert "onerror" in text.text
    assert not text.find_elements("css selector", "script, img, iframe")
    links = [a.get_attribute("href") or "" for a in text.find_elements("css selector", "a")]
    assert not [href for href in links if "javascript" in href]
    assert admin.script("return window.__pwned") is None
    admin.click(".dialog button.close")

    # The user meets it as a citation and opens it from the answer.
    user.click("#new-chat")
    user.wait(lambda driver: driver.current_url.endswith("/chat"))
    user.select("#agent-select", "knowledge")
    ask(user, "Which film are pallets wrapped in before they leave the depot?")
    block = wait_for_answer(user, 1)
    seen["acme_sessions"].add(session_in_url(user))
    user.click(f".msg.assistant .sources button[data-document='{HOSTILE_ID}']")
    document = user.find(f".dialog article[data-document='{HOSTILE_ID}']")
    assert "<img" in document.text
    assert not document.find_elements("css selector", ":is(script, img, iframe)")
    assert not block.find_elements("css selector", "script, img, iframe")
    assert user.script("return window.__pwned") is None
    user.click(".dialog button.close")


def test_a_globex_user_sees_none_of_acmes_sessions_tools_or_documents(user: Browser) -> None:
    user.click("#sign-out")
    user.wait(lambda driver: "/signin" in driver.current_url)
    user.sign_in("globex-user", "/chat")
    user.find("#message")
    user.find(".session-list li")  # the list has loaded (an empty list says so)
    listed = {item.get_attribute("data-session") for item in user.all(".session-list li[data-session]")}
    assert listed.isdisjoint(seen["acme_sessions"])

    user.click("#library-toggle")
    user.find("#tool-list li")
    user.present("#document-list li")
    tools = {item.get_attribute("data-tool") for item in user.all("#tool-list li")}
    assert "erp:get_customer_debt" in tools
    assert f"erp:{PROFILE_TOOL}" not in tools and "erp:create_order" not in tools
    # Each tool as the reader's language says what it does.
    debt_tool = user.find("#tool-list li[data-tool='erp:get_customer_debt'] .tool-title").text
    reading = user.script("return document.documentElement.lang")
    assert debt_tool == {"vi": "Tra công nợ khách hàng", "en": "Customer debt"}[reading]
    documents = {item.get_attribute("data-document") for item in user.all("#document-list li")}
    assert "return-policy" in documents  # globex's own
    assert HOSTILE_ID not in documents
    titles = user.text("#document-list")
    assert "ACME" not in titles

    acme_session = next(iter(seen["acme_sessions"]))
    user.open(f"/chat/{acme_session}")
    notice = user.find(".messages .notice.error")
    assert notice.text  # "does not exist, or is not yours"
    assert not assistant_blocks(user)


def test_a_platform_admin_creates_exports_and_deletes_a_tenant(
    admin: Browser, mesh: WholeMesh, tmp_path: Path
) -> None:
    platform = mesh.headers("platform", "root", "platform_admin")
    admin_page(admin, "tenants")
    admin.type("#tenant-id", LIFECYCLE_TENANT)
    admin.type("#tenant-name", "Initech")
    admin.click("#tenant-create")
    row = f"#tenants-table tr[data-tenant='{LIFECYCLE_TENANT}']"
    admin.find(row)
    tool = {
        "name": "initech_customer",
        "description": "Initech's customer record by MST.",
        "method": "GET",
        "url": "/customers/{mst}",
        "input_schema": {"type": "object", "required": ["mst"], "properties": {"mst": {"type": "string"}}},
    }
    created = mesh.request("POST", f"/api/admin/tenants/{LIFECYCLE_TENANT}/erp/tools", platform, tool)
    assert created.status_code == 201, created.text

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    admin.driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    admin.click(f"button[data-export='{LIFECYCLE_TENANT}']")
    archive = admin.wait(
        lambda driver: next(iter(downloads.glob("*.tar.gz")), None), message="the export was not saved"
    )
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        tools = tar.extractfile(manifest["contents"]["erp_tools"]).read().decode()  # type: ignore[union-attr]
    assert manifest["tenant_id"] == LIFECYCLE_TENANT
    assert "initech_customer" in tools
    assert archive.name.startswith(f"agentmesh-{LIFECYCLE_TENANT}-")

    admin.click(f"button[data-delete='{LIFECYCLE_TENANT}']")
    admin.click("dialog button[data-confirm='yes']")
    admin.wait(lambda driver: not admin.all(row), message="the deleted tenant is still listed")
    listed = mesh.request("GET", "/api/admin/tenants", platform).json()["items"]
    assert LIFECYCLE_TENANT not in {tenant["id"] for tenant in listed}
    assert "acme" in {tenant["id"] for tenant in listed}
    gone = mesh.request("GET", f"/api/admin/tenants/{LIFECYCLE_TENANT}/erp/tools", platform)
    assert gone.status_code == 404, gone.text


def test_the_chat_fits_a_phone_screen(user: Browser) -> None:
    user.driver.set_window_size(390, 844)
    try:
        user.open("/chat")
        user.find("#message")
        assert user.script("return document.documentElement.scrollWidth <= window.innerWidth")
        assert user.find("#send").is_displayed()
    finally:
        user.driver.set_window_size(1360, 960)


def test_no_page_logged_an_error(user: Browser, admin: Browser) -> None:
    # The only expected failure: the globex user opening one of acme's sessions (404, as designed).
    assert user.console_errors(expected=("/api/globex/sessions/",)) == []
    assert admin.console_errors() == []
    missing = [e["message"] for e in user.log + admin.log if "missing string" in e["message"]]
    assert missing == []
