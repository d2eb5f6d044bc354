"""The soak's delivery stream (calsync_dev.soak_scenarios), which the fault suite reuses."""

from __future__ import annotations

import json

from calsync_dev.soak_scenarios import SCENARIOS, plan


def test_the_plan_mixes_kinds_duplicates_and_reordering() -> None:
    # The soak's stream is what the fault tests rely on: every kind, repeats, and out of order
    scenarios, stream = plan(400, "plan", seed=1)
    assert len(stream) == 400
    assert {s.kind for s in scenarios} == {"created", "canceled", "reschedule", "no_show", "routing", "unknown"}
    assert len(set(stream)) < len(stream)  # duplicates
    causal = [b for s in scenarios for b in s.bodies]
    firsts = list(dict.fromkeys(stream))
    assert firsts != causal  # reordered


def test_each_scenario_is_about_invitees_of_its_own() -> None:
    scenarios, _ = plan(200, "own", seed=2)
    emails = [s.email for s in scenarios]
    assert len(set(emails)) == len(emails)
    uris = [u for s in scenarios for u in s.expected.bookings]
    assert len(set(uris)) == len(uris)
    for s in scenarios:
        for body in s.bodies:
            payload = json.loads(body)["payload"]
            assert payload.get("email") in (None, s.email)
    assert set(SCENARIOS) == {s.kind for s in scenarios}
