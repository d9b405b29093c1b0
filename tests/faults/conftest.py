"""The fault suite prints what each fault cost (unavailability, longest gap between acknowledged
writes) at the end of the run."""

from __future__ import annotations

from typing import Any

FAULT_REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FAULT_REPORT:
        terminalreporter.section("faults: what each one cost")
        for line in FAULT_REPORT:
            terminalreporter.write_line(line)
