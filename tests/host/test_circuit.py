"""A server that keeps failing is cut off, probed after a pause, and let back in when it answers."""

from __future__ import annotations

from host.circuit import CircuitBreaker, CircuitBreakers
from tests.support.clock import ManualClock


def test_the_circuit_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker("erp", failure_threshold=3, reset_seconds=10, clock=ManualClock(100.0))
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success in between resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()


def test_after_the_pause_one_probe_goes_through_and_its_success_closes_the_circuit() -> None:
    clock = ManualClock(100.0)
    breaker = CircuitBreaker("erp", failure_threshold=1, reset_seconds=10, clock=clock)
    breaker.record_failure()
    clock.now += 9.9
    assert not breaker.allow()
    assert 0 < breaker.retry_in_seconds <= 0.1 + 1e-9
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # nobody else while it runs
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


def test_a_failed_probe_opens_the_circuit_for_another_period() -> None:
    clock = ManualClock(100.0)
    breaker = CircuitBreaker("erp", failure_threshold=1, reset_seconds=10, clock=clock)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 9
    assert not breaker.allow()


def test_a_cancelled_probe_lets_the_next_call_probe() -> None:
    clock = ManualClock(100.0)
    breaker = CircuitBreaker("erp", failure_threshold=1, reset_seconds=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


def test_states_are_readable_per_server_for_metrics() -> None:
    breakers = CircuitBreakers(failure_threshold=1, reset_seconds=5)
    breakers.for_server("rag").record_success()
    breakers.for_server("erp").record_failure()
    assert breakers.states() == {"erp": "open", "rag": "closed"}
    assert breakers.for_server("erp") is breakers.for_server("erp")
