"""Calibration fits a router's curve, threshold and margin on labelled messages it was not built from."""

from __future__ import annotations

import pytest

from host.routing import Router
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
