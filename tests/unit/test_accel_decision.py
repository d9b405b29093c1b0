"""The accelerator decision: KVM only when a guest really ran on it (a pure function over facts)."""

from __future__ import annotations

import pytest

from hexagone.compute.drivers.accel import AccelFacts, decide_accel

pytestmark = pytest.mark.unit

INTEL = AccelFacts(kvm_device=True, modules=("kvm_intel", "kvm"), cpu_virt_flags=("vmx",))


def test_this_machine_kind_nested_pvm_gives_tcg_without_a_canary() -> None:
    facts = AccelFacts(kvm_device=True, modules=("kvm", "kvm_pvm"), cpu_virt_flags=())
    decision = decide_accel(facts)
    assert decision.accel == "tcg" and not decision.needs_canary
    assert "kvm_pvm" in decision.reason


def test_no_dev_kvm_gives_tcg() -> None:
    decision = decide_accel(AccelFacts(kvm_device=False, modules=(), cpu_virt_flags=("vmx",)))
    assert decision.accel == "tcg" and "/dev/kvm" in decision.reason


def test_hardware_module_without_cpu_flag_gives_tcg() -> None:
    decision = decide_accel(AccelFacts(kvm_device=True, modules=("kvm_amd",), cpu_virt_flags=()))
    assert decision.accel == "tcg" and "svm" in decision.reason


def test_hardware_kvm_asks_for_a_canary_before_trusting_it() -> None:
    decision = decide_accel(INTEL)
    assert decision.needs_canary and decision.accel == "tcg"


def test_a_canary_that_booted_gives_kvm() -> None:
    facts = AccelFacts(**{**INTEL.__dict__, "canary_ok": True})
    assert decide_accel(facts).accel == "kvm"


def test_a_canary_that_hung_gives_tcg_and_says_why() -> None:
    facts = AccelFacts(**{**INTEL.__dict__, "canary_ok": False, "canary_detail": "no marker within 15 s"})
    decision = decide_accel(facts)
    assert decision.accel == "tcg" and "no marker within 15 s" in decision.reason


def test_configured_tcg_wins_even_on_working_kvm() -> None:
    facts = AccelFacts(**{**INTEL.__dict__, "canary_ok": True})
    assert decide_accel(facts, requested="tcg").accel == "tcg"
