"""The supervisor router: right agent in English and Vietnamese (with or without accents), and a
clarifying question naming the candidates when a message is off-topic, empty or asks for two things.

The messages routed here are phrasings the agents were not configured with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from host.routing import (
    AgentProfile,
    RouteDecision,
    Router,
    RouterSettings,
    split_intents,
)
from host.text import fold

DEMO_AGENTS = [
    AgentProfile(
        name="debt",
        description="Customer debt: outstanding and overdue amounts, balances owed and payment history, "
        "looked up by the customer's MST tax code.",
        examples=[
            "What is the debt for customer MST 0123456789?",
            "How much does customer 0312345678 still owe us?",
            "Show the payment history of customer MST 0101234567",
            "Which customers are overdue on their payments?",
            "Công nợ của khách hàng có MST 0123456789 là bao nhiêu?",
            "Khách hàng MST 0312345678 còn nợ quá hạn bao nhiêu?",
            "Lịch sử thanh toán của khách hàng 0101234567",
            "Danh sách khách hàng nợ quá hạn",
        ],
        keywords=[
            "debt",
            "owe",
            "overdue",
            "outstanding",
            "receivable",
            "balance",
            "tax code",
            "MST",
            "công nợ",
            "nợ",
            "quá hạn",
            "thanh toán",
            "mã số thuế",
        ],
    ),
    AgentProfile(
        name="shipment",
        description="Shipment tracking: where a shipment is, its delivery status and its tracking events.",
        examples=[
            "Where is shipment SH-1042?",
            "Track shipment SH-2077 for me",
            "Has shipment SH-3301 been delivered yet?",
            "Show the tracking events of SH-1042",
            "Đơn hàng SH-1042 đang ở đâu?",
            "Kiểm tra trạng thái giao hàng của lô SH-2077",
            "Lô hàng SH-3301 đã giao chưa?",
            "Lịch sử vận chuyển của vận đơn SH-1042",
        ],
        keywords=[
            "shipment",
            "tracking",
            "track",
            "delivery",
            "delivered",
            "parcel",
            "package",
            "vận chuyển",
            "giao hàng",
            "lô hàng",
            "vận đơn",
            "đơn hàng",
            "kiện hàng",
        ],
    ),
    AgentProfile(
        name="knowledge",
        description="Company policies and documents: returns and refunds, payment terms, shipping policy, "
        "warranty and internal procedures.",
        examples=[
            "What is our return policy?",
            "What are the payment terms for wholesale customers?",
            "Summarise the shipping policy document",
            "How long is the warranty on our products?",
            "Chính sách đổi trả là gì?",
            "Điều khoản thanh toán cho đại lý là gì?",
            "Quy định bảo hành sản phẩm như thế nào?",
            "Quy trình hoàn tiền cho khách hàng",
        ],
        keywords=[
            "policy",
            "return",
            "refund",
            "warranty",
            "terms",
            "procedure",
            "document",
            "handbook",
            "chính sách",
            "đổi trả",
            "trả hàng",
            "hoàn tiền",
            "bảo hành",
            "điều khoản",
            "quy định",
        ],
    ),
    AgentProfile(
        name="ocr",
        description="Read text from images, scans and photos of receipts and invoices (OCR).",
        examples=[
            "Read the text in this scanned invoice",
            "Extract the total from this receipt photo",
            "What does this image say?",
            "OCR this scanned contract",
            "Đọc chữ trong ảnh hóa đơn này",
            "Trích xuất tổng tiền từ ảnh biên lai",
            "Nhận dạng văn bản trong bản scan này",
            "Ảnh chụp này ghi gì?",
        ],
        keywords=[
            "ocr",
            "scan",
            "scanned",
            "image",
            "photo",
            "picture",
            "receipt",
            "invoice",
            "ảnh",
            "hình",
            "ảnh chụp",
            "hóa đơn",
            "biên lai",
            "quét",
            "trích xuất",
        ],
    ),
    AgentProfile(
        name="search",
        description="Search the web and fetch web pages: news, prices and public information online.",
        examples=[
            "Search the web for the latest steel prices",
            "Fetch the page at https://example.com/pricing",
            "Find news about Vietnam logistics regulations",
            "Look up our competitor's website",
            "Tìm trên mạng giá thép mới nhất",
            "Mở trang web https://example.com và tóm tắt",
            "Tìm tin tức về quy định logistics mới",
            "Tra cứu thông tin trên internet về đối thủ",
        ],
        keywords=[
            "search",
            "web",
            "internet",
            "online",
            "google",
            "website",
            "url",
            "page",
            "news",
            "tìm kiếm",
            "trang web",
            "mạng",
            "tra cứu",
            "tin tức",
        ],
    ),
]
NAMES = [agent.name for agent in DEMO_AGENTS]

ENGLISH = [
    ("How much money does the customer with tax code 0309876543 owe?", "debt"),
    ("Is customer 0305551234 behind on payments?", "debt"),
    ("Can you tell me the delivery status of SH-5120?", "shipment"),
    ("When will package SH-7781 arrive?", "shipment"),
    ("How many days do customers have to return a product?", "knowledge"),
    ("What does the handbook say about refunds?", "knowledge"),
    ("Please OCR this photo of a receipt", "ocr"),
    ("Can you get the text out of this picture?", "ocr"),
    ("Look up online the current price of copper", "search"),
    ("Google the latest news about port congestion", "search"),
]
VIETNAMESE = [
    ("Khách hàng mã số thuế 0309876543 đang nợ bao nhiêu tiền?", "debt"),
    ("Cho tôi xem khoản nợ chưa trả của MST 0305551234", "debt"),
    ("Lô hàng SH-5120 giao tới đâu rồi?", "shipment"),
    ("Khi nào kiện hàng SH-7781 được giao?", "shipment"),
    ("Thời hạn bảo hành là bao lâu?", "knowledge"),
    ("Chính sách hoàn tiền khi khách trả hàng thế nào?", "knowledge"),
    ("Đọc giúp tôi nội dung tấm ảnh chụp hóa đơn", "ocr"),
    ("Lấy chữ từ hình này giúp tôi", "ocr"),
    ("Tìm kiếm trên internet giá đồng hôm nay", "search"),
    ("Tra cứu tin tức mới nhất về cảng biển", "search"),
]
VIETNAMESE_WITHOUT_ACCENTS = [
    ("Khach hang ma so thue 0309876543 dang no bao nhieu tien?", "debt"),
    ("Cho toi xem khoan no chua tra cua MST 0305551234", "debt"),
    ("Lo hang SH-5120 giao toi dau roi?", "shipment"),
    ("Khi nao kien hang SH-7781 duoc giao?", "shipment"),
    ("Thoi han bao hanh la bao lau?", "knowledge"),
    ("Chinh sach hoan tien khi khach tra hang the nao?", "knowledge"),
    ("Doc giup toi noi dung tam anh chup hoa don", "ocr"),
    ("Lay chu tu hinh nay giup toi", "ocr"),
    ("Tim kiem tren internet gia dong hom nay", "search"),
    ("Tra cuu tin tuc moi nhat ve cang bien", "search"),
]
OFF_TOPIC = [
    "what's the weather on Mars",
    "tell me a joke",
    "who won the football match yesterday",
    "Kể cho tôi một câu chuyện cười",
    "Ai thắng trận bóng đá tối qua?",
    "ai thang tran bong da toi qua?",
]


@pytest.fixture(scope="module")
def router() -> Router:
    return Router(DEMO_AGENTS)


def assert_routed(decision: RouteDecision, agent: str) -> None:
    assert (decision.agent, decision.reason) == (agent, "confident"), decision
    assert not decision.clarify and decision.question is None
    assert decision.candidates[0].agent == agent


def assert_asks_about(decision: RouteDecision, reason: str) -> None:
    assert decision.agent is None and decision.clarify and decision.reason == reason, decision
    assert decision.candidates, "a clarifying question names its candidates"
    for candidate in decision.candidates:
        assert candidate.agent in decision.question


def test_the_routed_phrasings_are_not_the_configured_examples() -> None:
    configured = {fold(example).strip() for agent in DEMO_AGENTS for example in agent.examples}
    for message, _ in ENGLISH + VIETNAMESE + VIETNAMESE_WITHOUT_ACCENTS:
        assert fold(message).strip() not in configured


@pytest.mark.parametrize(("message", "agent"), ENGLISH)
def test_routes_english_requests(router: Router, message: str, agent: str) -> None:
    assert_routed(router.route(message), agent)


@pytest.mark.parametrize(("message", "agent"), VIETNAMESE)
def test_routes_vietnamese_requests(router: Router, message: str, agent: str) -> None:
    assert_routed(router.route(message), agent)


@pytest.mark.parametrize(("message", "agent"), VIETNAMESE_WITHOUT_ACCENTS)
def test_routes_vietnamese_typed_without_accents(router: Router, message: str, agent: str) -> None:
    assert_routed(router.route(message), agent)


@pytest.mark.parametrize("message", OFF_TOPIC)
def test_off_topic_messages_get_a_question_naming_candidates(router: Router, message: str) -> None:
    decision = router.route(message)
    assert_asks_about(decision, "low_confidence")
    assert 1 <= len(decision.candidates) <= 3


def test_a_question_about_a_vietnamese_message_is_asked_in_vietnamese(router: Router) -> None:
    decision = router.route("Kể cho tôi một câu chuyện cười")
    assert decision.question is not None and decision.question.startswith("Tôi chưa chắc")


@pytest.mark.parametrize(
    ("message", "debt_part", "shipment_part"),
    [
        (
            "what is the debt of MST 0123456789 and where is shipment SH-1042?",
            "what is the debt of MST 0123456789",
            "where is shipment SH-1042",
        ),
        (
            "Công nợ của MST 0123456789 và lô hàng SH-1042 đang ở đâu?",
            "Công nợ của MST 0123456789",
            "lô hàng SH-1042 đang ở đâu",
        ),
        (
            "Cong no cua MST 0123456789 va lo hang SH-1042 dang o dau?",
            "Cong no cua MST 0123456789",
            "lo hang SH-1042 dang o dau",
        ),
        (
            "How much does customer 0312345678 owe? Also, has shipment SH-1050 been delivered?",
            "How much does customer 0312345678 owe",
            "has shipment SH-1050 been delivered",
        ),
    ],
)
def test_two_clear_requests_for_two_agents_come_back_as_two_parts(
    router: Router, message: str, debt_part: str, shipment_part: str
) -> None:
    decision = router.route(message)
    assert (decision.agent, decision.reason, decision.clarify) == (None, "multiple_intents", False)
    assert [(part.agent, part.text) for part in decision.parts] == [
        ("debt", debt_part),
        ("shipment", shipment_part),
    ]


def test_two_requests_with_one_unclear_part_get_a_clarification_not_a_guess(router: Router) -> None:
    decision = router.route(
        "What is the debt of MST 0123456789? Where is shipment SH-1042? Tell me a joke about cats"
    )
    assert decision.parts == []
    assert_asks_about(decision, "multiple_intents")
    assert decision.unclear_parts == ["Tell me a joke about cats"]
    assert decision.question is not None and "“Tell me a joke about cats”" in decision.question


@pytest.mark.parametrize(
    ("message", "agent"),
    [
        ("Show the payment history and the overdue amount for MST 0101234567", "debt"),
        ("Track SH-5120 and tell me when it will be delivered", "shipment"),
        ("Đọc ảnh này và trích xuất tổng tiền", "ocr"),
    ],
)
def test_a_conjunction_inside_one_request_is_not_two_intents(
    router: Router, message: str, agent: str
) -> None:
    assert_routed(router.route(message), agent)


@pytest.mark.parametrize("message", ["", "   ", "\n\t", "?!", "…"])
def test_empty_messages_get_a_question_listing_the_agents(router: Router, message: str) -> None:
    decision = router.route(message)
    assert (decision.agent, decision.clarify, decision.reason, decision.candidates) == (
        None,
        True,
        "empty",
        [],
    )
    assert decision.question is not None
    for name in NAMES:
        assert name in decision.question


def test_a_near_tie_is_ambiguous_and_names_the_tied_agents(router: Router) -> None:
    with_margin = router.with_settings(RouterSettings(margin=0.1))
    decision = with_margin.route("Read the payment terms from this scanned policy document")
    assert_asks_about(decision, "ambiguous")
    assert {candidate.agent for candidate in decision.candidates} == {"ocr", "knowledge"}


def test_candidates_are_calibrated_best_first_and_at_most_three(router: Router) -> None:
    decision = router.route("Where is shipment SH-9001 and what is our warranty policy?")
    scores = [candidate.score for candidate in decision.candidates]
    assert 1 <= len(scores) <= 3
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_route_many_decides_as_route_does(router: Router) -> None:
    messages = [
        "",
        ENGLISH[0][0],
        VIETNAMESE[2][0],
        OFF_TOPIC[0],
        "what is the debt of MST 0123456789 and where is SH-1042?",
    ]
    # The int8 encoder quantizes activations per batch, so a message encoded beside others gets a
    # slightly different vector (cosines move by about 0.003, calibrated scores by up to 0.03 on the
    # steep part of the curve): the decision is the same, and agents within that noise may swap.
    for batched, single in zip(router.route_many(messages), map(router.route, messages), strict=True):
        assert (batched.agent, batched.reason) == (single.agent, single.reason)
        assert {c.agent for c in batched.candidates} == {c.agent for c in single.candidates}
        single_scores = {c.agent: c.score for c in single.candidates}
        for candidate in batched.candidates:
            assert candidate.score == pytest.approx(single_scores[candidate.agent], abs=0.05)
        # The int8 encoder quantizes activations per batch: a batched vector moves a little, so
        # close runners-up may swap; the choice and every agent's score stay put.
        assert [c.agent for c in batched.candidates[:1]] == [c.agent for c in single.candidates[:1]]
        single_scores = {c.agent: c.score for c in single.candidates}
        for candidate in batched.candidates:
            if candidate.agent in single_scores:
                assert candidate.score == pytest.approx(single_scores[candidate.agent], abs=0.05)


class TestExampleDensity:
    """Twenty phrasings of one request crowd together; five lone examples stand apart."""

    def axis(self, index: int) -> np.ndarray:
        return np.eye(32)[index]

    def vectors(self) -> dict[str, np.ndarray]:
        crowd = {f"crowded {n}": self.axis(0) + 0.1 * self.axis(1 + n) for n in range(20)}
        lone = {f"lone {n}": self.axis(21 + n) for n in range(5)}
        return {
            **crowd,
            **lone,
            "desk": self.axis(30),
            "near the crowd": 0.8 * self.axis(0) + 0.6 * self.axis(31),
            "near a lone one": 0.8 * self.axis(21) + 0.6 * self.axis(31),
        }

    def encoder(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.vectors()
        return np.array([vectors[text] for text in texts])

    def neighbours(self, examples: list[str], density_weight: float) -> np.ndarray:
        router = Router(
            [AgentProfile(name="desk", description="desk", examples=examples)],
            settings=RouterSettings(density_weight=density_weight),
            encoder=self.encoder,
        )
        return router.evidence(["near the crowd", "near a lone one"]).neighbours[:, 0]

    def test_nearness_to_a_crowded_example_counts_for_less_than_to_a_lone_one(self) -> None:
        examples = [*(f"crowded {n}" for n in range(20)), *(f"lone {n}" for n in range(5))]
        plain = self.neighbours(examples, density_weight=0.0)
        adjusted = self.neighbours(examples, density_weight=0.5)
        assert adjusted[0] < plain[0]
        assert adjusted[1] > plain[1]

    def test_turning_the_weight_on_for_a_built_router_measures_the_densities(self) -> None:
        examples = [*(f"crowded {n}" for n in range(20)), *(f"lone {n}" for n in range(5))]
        agents = [AgentProfile(name="desk", description="desk", examples=examples)]
        plain = Router(agents, settings=RouterSettings(density_weight=0.0), encoder=self.encoder)
        switched = plain.with_settings(RouterSettings(density_weight=0.5))
        messages = ["near the crowd", "near a lone one"]
        assert np.allclose(
            switched.evidence(messages).neighbours, self.neighbours(examples, density_weight=0.5)[:, None]
        )

    def test_an_english_message_is_not_moved_by_another_agent_s_vietnamese_examples(self) -> None:
        # The encoder finds Vietnamese sentences alike: a dense Vietnamese pool must not shift the
        # English examples' average density.
        english = [*(f"crowded {n}" for n in range(20)), *(f"lone {n}" for n in range(5))]
        vietnamese = {f"đơn hàng số {n}": self.axis(29) + 0.05 * self.axis(n) for n in range(25)}
        vectors = {**self.vectors(), **vietnamese, "kho": self.axis(28)}

        def encoder(texts: Sequence[str]) -> np.ndarray:
            return np.array([vectors[text] for text in texts])

        desk = AgentProfile(name="desk", description="desk", examples=english)
        alone = Router([desk, AgentProfile(name="kho", description="kho", examples=["kho"])], encoder=encoder)
        beside = Router(
            [desk, AgentProfile(name="kho", description="kho", examples=list(vietnamese))], encoder=encoder
        )
        settings = RouterSettings(density_weight=0.5)
        messages = ["near the crowd", "near a lone one"]
        assert np.allclose(
            alone.with_settings(settings).evidence(messages).neighbours[:, 0],
            beside.with_settings(settings).evidence(messages).neighbours[:, 0],
        )

    def test_a_handful_of_examples_is_not_adjusted(self) -> None:
        # Below `density_min_examples` there is no neighbourhood to measure.
        examples = ["crowded 0", "crowded 1", "crowded 2", "lone 0", "lone 1"]
        assert np.allclose(self.neighbours(examples, 0.0), self.neighbours(examples, 0.5))


def test_split_intents_cuts_on_english_and_vietnamese_conjunctions_and_punctuation() -> None:
    assert split_intents("what is the debt of MST 0123456789 and where is shipment SH-1042?") == [
        "what is the debt of MST 0123456789",
        "where is shipment SH-1042",
    ]
    assert split_intents("Công nợ của MST 0123456789 rồi kiểm tra lô hàng SH-1042") == [
        "Công nợ của MST 0123456789",
        "kiểm tra lô hàng SH-1042",
    ]
    assert split_intents("Return policy? Also; thanks") == ["Return policy"]


def test_a_router_needs_agents_with_distinct_names() -> None:
    with pytest.raises(ValueError, match="at least one agent"):
        Router([])
    with pytest.raises(ValueError, match="repeated: debt"):
        Router([DEMO_AGENTS[0], DEMO_AGENTS[0]])


def test_an_agent_needs_a_description_or_examples() -> None:
    with pytest.raises(ValueError, match="'blank' needs a description or examples"):
        AgentProfile(name="blank", description="  ", examples=[""])
    assert AgentProfile(name="by-example", examples=["Where is shipment SH-1042?"]).description == ""


def test_settings_reject_weights_that_leave_nothing_to_score() -> None:
    with pytest.raises(ValueError, match="at least one of"):
        RouterSettings(example_weight=0, description_weight=0, lexical_weight=0)
    with pytest.raises(ValueError, match="neighbour_weights"):
        RouterSettings(neighbour_weights=(0.0, 0.0))
