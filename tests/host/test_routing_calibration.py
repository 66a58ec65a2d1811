"""Calibration fits a router's curve, threshold and margin on labelled messages it was not built from."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from host.routing import AgentProfile, Router, RouterSettings
from host.routing_calibration import calibrate
from tests.host.test_routing import DEMO_AGENTS, ENGLISH, VIETNAMESE


@pytest.fixture(scope="module")
def router() -> Router:
    return Router(DEMO_AGENTS)


class TestCalibrate:
    IN_SCOPE = [(message, agent) for message, agent in ENGLISH + VIETNAMESE]
    OUT_OF_SCOPE = [
        "what's the capital of Australia",
        "recommend a good movie for tonight",
        "how do I bake sourdough bread",
        "Hôm nay ăn gì ngon?",
        "Thời tiết trên sao Hỏa thế nào?",
        "play some jazz music",
    ]

    def test_the_threshold_clarifies_the_target_share_of_out_of_scope_messages(self, router: Router) -> None:
        settings = calibrate(router, self.IN_SCOPE, self.OUT_OF_SCOPE, target_oos_recall=5 / 6)
        calibrated = router.with_settings(settings)
        clarified = sum(decision.clarify for decision in calibrated.route_many(self.OUT_OF_SCOPE))
        assert clarified >= 5
        routed_right = sum(
            decision.agent == agent
            for decision, (_, agent) in zip(
                calibrated.route_many([m for m, _ in self.IN_SCOPE]), self.IN_SCOPE, strict=True
            )
        )
        assert routed_right >= 0.8 * len(self.IN_SCOPE)
        assert 0.0 < settings.threshold < 1.0 and settings.score_slope > 0

    def test_labels_must_name_the_routers_agents(self, router: Router) -> None:
        with pytest.raises(ValueError, match="unknown agents: billing"):
            calibrate(router, [("pay my bill", "billing")], self.OUT_OF_SCOPE)

    def test_both_kinds_of_message_are_needed(self, router: Router) -> None:
        with pytest.raises(ValueError, match="both in-scope and out-of-scope"):
            calibrate(router, self.IN_SCOPE, [])

    def test_an_impossible_recall_target_is_refused(self, router: Router) -> None:
        with pytest.raises(ValueError, match="target_oos_recall"):
            calibrate(router, self.IN_SCOPE, self.OUT_OF_SCOPE, target_oos_recall=1.5)


def _toward_first_axis(similarity: float) -> list[float]:
    return [similarity, 0.0, float(np.sqrt(1 - similarity * similarity))]


class TestRecallWithEvidence:
    """In-scope and out-of-scope messages at overlapping distances from the agent's example."""

    VECTORS = {
        "lodging desk": [1.0, 0.0, 0.0],
        "lodging": [1.0, 0.0, 0.0],
        "parcel desk": [0.0, 1.0, 0.0],
        "parcel": [0.0, 1.0, 0.0],
        **{f"inside {n}": _toward_first_axis(0.35 + 0.08 * n) for n in range(8)},
        "inside wrong": [0.2, 0.9, float(np.sqrt(1 - 0.85))],
        **{f"outside {n}": _toward_first_axis(0.3 + 0.1 * n) for n in range(6)},
    }
    IN_SCOPE = [*((f"inside {n}", "lodging") for n in range(8)), ("inside wrong", "lodging")]
    OUT_OF_SCOPE = [f"outside {n}" for n in range(6)]

    def encoder(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.VECTORS[text] for text in texts])

    def test_the_recall_target_is_met_with_a_standard_error_to_spare(self) -> None:
        router = Router(
            [
                AgentProfile(name="lodging", description="lodging desk", examples=["lodging"]),
                AgentProfile(name="parcel", description="parcel desk", examples=["parcel"]),
            ],
            encoder=self.encoder,
        )

        def clarified(confidence: float) -> int:
            settings = calibrate(
                router, self.IN_SCOPE, self.OUT_OF_SCOPE, target_oos_recall=0.5, recall_confidence=confidence
            )
            decisions = router.with_settings(settings).route_many(self.OUT_OF_SCOPE)
            return sum(decision.clarify for decision in decisions)

        # Three of six is a recall of 0.5 measured, but weak evidence of it; five of six has a
        # Wilson lower bound of 0.64, one standard error down.
        assert clarified(confidence=0) == 3
        assert clarified(confidence=1) == 5

    def test_a_score_that_rounds_up_to_the_threshold_is_still_below_it(self) -> None:
        router = Router(
            [
                AgentProfile(name="lodging", description="lodging desk", examples=["lodging"]),
                AgentProfile(name="parcel", description="parcel desk", examples=["parcel"]),
            ],
            encoder=self.encoder,
        )
        for message in self.OUT_OF_SCOPE:
            score = float(router.settings.calibrated(router.evidence([message]).raw[0]).max())
            if round(score, 4) > score:  # shown rounded up: put the threshold in between
                threshold = (score + round(score, 4)) / 2
                decision = router.with_settings(RouterSettings(threshold=threshold)).route(message)
                assert decision.clarify and decision.candidates[0].score >= threshold
                return
        pytest.fail("no score here rounds up; the test needs other messages")

    @pytest.mark.parametrize("confidence", [float("nan"), -1.0, float("inf")])
    def test_the_recall_confidence_is_a_finite_number_of_standard_errors(self, confidence: float) -> None:
        router = Router([AgentProfile(name="lodging", description="lodging desk")], encoder=self.encoder)
        with pytest.raises(ValueError, match="recall_confidence must be"):
            calibrate(router, self.IN_SCOPE, self.OUT_OF_SCOPE, recall_confidence=confidence)

    def test_too_few_out_of_scope_messages_to_show_the_recall_are_refused(self) -> None:
        router = Router([AgentProfile(name="lodging", description="lodging desk")], encoder=self.encoder)
        # Six of six caught bounds the recall at 0.857 one standard error down.
        with pytest.raises(ValueError, match=r"6 out-of-scope messages cannot show a recall of 0\.9"):
            calibrate(router, self.IN_SCOPE, self.OUT_OF_SCOPE, target_oos_recall=0.9)
