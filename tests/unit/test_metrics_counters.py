"""``/metrics`` counters only go up: offer cycles are counted by the scheduler process across its
terms as leader (a new term's engine starts from the last term's count)."""
from __future__ import annotations

from .test_service import service, until  # noqa: F401 - the leading service fixture

__all__ = ["service"]


def test_offer_cycles_go_on_from_the_last_term_after_a_failover(service):  # noqa: F811
    _, _, drivers, _ = service.fakes
    until(lambda: service.engine is not None)
    service.engine.offer_cycles += 5   # as five offer cycles with work would
    assert service.stats().offer_cycles == 5
    assert service.abdicate() is True
    until(lambda: drivers[0].stopped)
    assert service.stats().offer_cycles is None   # a standby reports none
    until(lambda: len(drivers) == 2 and service.engine is not None, timeout=10)
    assert service.stats().offer_cycles == 5      # not back to 0
