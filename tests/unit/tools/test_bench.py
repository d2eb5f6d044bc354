"""`make bench` keeps working: its in-process measures run the real code paths."""

from calsync_dev import bench


def test_receiver_bench_times_an_accepted_request_next_to_the_floor() -> None:
    # When the receiver measure runs a few iterations
    figures = bench.bench_receiver(20)
    # Then it reports both sides and their ratio (it raises if the request were rejected)
    assert figures["receiver_p50_us"] > 0
    assert figures["receiver_floor_p50_us"] > 0
    assert figures["receiver_ratio_p50"] == figures["receiver_p50_us"] / figures["receiver_floor_p50_us"]


def test_processor_bench_covers_every_processed_event_kind() -> None:
    figures = bench.bench_processor(5)
    kinds = {key.split("_p50_us")[0] for key in figures if key.endswith("_p50_us")}
    assert kinds == {
        "processor_invitee_created",
        "processor_invitee_canceled",
        "processor_invitee_no_show_created",
        "processor_routing_form_submission_created",
    }


def test_lifecycle_bench_publishes_one_event_per_changed_record() -> None:
    # When the lifecycle measure runs (it asserts one event per record as it goes)
    figures = bench.bench_lifecycle(5)
    # Then it reports the per-record cost
    assert figures["lifecycle_changed_record_p50_us"] > 0


def test_the_table_shows_every_figure_with_its_target() -> None:
    figures = {**bench.bench_receiver(5), **bench.bench_processor(5), **bench.bench_lifecycle(5)}
    figures.update({"cold_floor_ms": 1.0, "cold_floor_rss_mb": 1.0})
    for name in ("receiver", "processor"):
        for suffix in ("ms", "ratio", "with_clients_ms", "with_clients_ratio", "rss_mb"):
            figures[f"cold_{name}_{suffix}"] = 1.0
    table = bench.render(figures)
    assert "target ≤ 1.5x" in table
    assert "target ≤ 1.3x" in table
    assert "target ≤ 1.6x" in table
