"""The benchmark harness's own arithmetic: percentiles, statistics, formatting and the doc blocks.
Benchmarks themselves never run in the test suite (`make bench` runs them)."""

from __future__ import annotations

import os
import time

import pytest
from bench.framework import Stats, collect, measure, measure_concurrent, ms, percentile, proc_status, rate
from bench.report import DOC_HEADER, Table, replace_block

pytestmark = pytest.mark.unit


def test_percentile_interpolates_between_closest_ranks_like_numpy() -> None:
    samples = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 100) == 4.0
    assert percentile(samples, 50) == pytest.approx(2.5)
    assert percentile(samples, 95) == pytest.approx(3.85)
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)


def test_percentile_of_one_sample_is_that_sample() -> None:
    assert percentile([0.7], 50) == percentile([0.7], 99) == 0.7


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_refuses_out_of_range_or_empty(q: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], q)
    with pytest.raises(ValueError):
        percentile([], 50)


def test_stats_summarise_latency_and_throughput() -> None:
    s = Stats.of([0.001] * 90 + [0.010] * 10, wall=0.5, clients=4)
    assert s.n == 100 and s.clients == 4
    assert s.p50 == pytest.approx(0.001)
    assert s.p99 == pytest.approx(0.010)
    assert s.min == 0.001 and s.max == 0.010
    assert s.mean == pytest.approx(0.0019)
    assert s.per_second == pytest.approx(200.0)  # operations per second of wall time, all clients


def test_stats_refuse_a_zero_wall_time() -> None:
    with pytest.raises(ValueError):
        Stats.of([0.1], wall=0)


def test_measure_counts_calls_and_skips_warmup() -> None:
    calls: list[int] = []
    s = measure(lambda: calls.append(1), count=7, warmup=3)
    assert len(calls) == 10 and s.n == 7


def test_measure_stops_at_the_time_limit_after_at_least_one_call() -> None:
    s = measure(lambda: time.sleep(0.02), count=1000, seconds=0.01)
    assert s.n == 1


def test_collect_uses_the_time_the_op_reports() -> None:
    s = collect(lambda: 0.5, count=4)
    assert s.p50 == 0.5 and s.n == 4


def test_measure_concurrent_shares_the_count_between_clients() -> None:
    made: list[int] = []

    def make(i: int):  # type: ignore[no-untyped-def]
        made.append(i)
        return lambda: None

    s = measure_concurrent(make, clients=3, count=30)
    assert sorted(made) == [0, 1, 2]
    assert s.n == 30 and s.clients == 3


def test_measure_concurrent_reraises_a_client_error() -> None:
    def make(_i: int):  # type: ignore[no-untyped-def]
        def op() -> None:
            raise RuntimeError("boom")

        return op

    with pytest.raises(RuntimeError, match="boom"):
        measure_concurrent(make, clients=2, count=10)


def test_durations_and_rates_are_shown_with_three_significant_figures() -> None:
    assert ms(0.4021) == "402"
    assert ms(0.01234) == "12.3"
    assert ms(0.001234) == "1.23"
    assert ms(-0.1143) == "-114"
    assert rate(2.2) == "2.2" and rate(1234.4) == "1,234"


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_proc_status_reads_resident_memory_in_kib() -> None:
    fields = proc_status(os.getpid())
    assert fields["VmRSS"] > 1000 and fields["VmHWM"] >= fields["VmRSS"]


def test_doc_block_is_replaced_in_place_and_other_sections_are_kept() -> None:
    doc = "# Benchmarks\n\nintro\n\n<!-- bench:identity -->\nold\n<!-- /bench:identity -->\n\n" \
          "<!-- bench:compute -->\ncompute figures\n<!-- /bench:compute -->\n\nnotes\n"
    new = replace_block(doc, "identity", "new figures\n")
    assert "old" not in new
    assert "<!-- bench:identity -->\nnew figures\n<!-- /bench:identity -->" in new
    assert "compute figures" in new and new.startswith("# Benchmarks\n\nintro") and new.endswith("notes\n")
    assert replace_block(new, "identity", "new figures") == new  # idempotent


def test_doc_block_is_appended_when_missing_and_the_header_written_once() -> None:
    first = replace_block("", "identity", "a")
    assert first.startswith(DOC_HEADER)
    both = replace_block(first, "billing", "b $1 \\g<0>")  # replacement text is not a regex template
    assert both.count("# Benchmarks") == 1
    assert both.index("bench:identity") < both.index("bench:billing")
    assert "b $1 \\g<0>" in both


def test_section_names_are_checked() -> None:
    with pytest.raises(ValueError):
        replace_block("", "Bad Name -->", "x")


def test_table_renders_text_and_markdown() -> None:
    t = Table(["what", "p50"])
    t.add("login", "402")
    t.add("a|b", "1")
    assert t.text().splitlines()[0].split() == ["what", "p50"]
    assert "| a\\|b | 1 |" in t.markdown()
    with pytest.raises(ValueError):
        t.add("only one cell")
