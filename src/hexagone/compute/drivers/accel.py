"""Choosing the accelerator: KVM only when it really runs a guest, TCG otherwise.

That ``/dev/kvm`` opens proves nothing: on a nested PVM host (``kvm_pvm``) ``KVM_CREATE_VM``
works but a stock kernel hangs. So the decision is a pure function over observed facts:

1. fast pre-checks: ``/dev/kvm`` exists, a hardware KVM module (``kvm_intel``/``kvm_amd``) is
   loaded, the CPU shows ``vmx``/``svm``;
2. a canary boot: the tiny image's kernel with ``hexagone.canary`` on its command line, under
   ``-accel kvm``, must print ``HEXAGONE-CANARY-OK`` within a few seconds.

The result is cached in ``<state_dir>/accel.json`` against a fingerprint of the host (kernel
release, loaded KVM modules, QEMU binary), so the canary runs once per host boot configuration.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

log = logging.getLogger("hexagone.compute.qemu")

HW_MODULES = ("kvm_intel", "kvm_amd")
OTHER_MODULES = ("kvm", "kvm_pvm")
CANARY_MARKER = "HEXAGONE-CANARY-OK"


@dataclass(frozen=True)
class AccelFacts:
    kvm_device: bool
    modules: tuple[str, ...]
    cpu_virt_flags: tuple[str, ...]
    canary_ok: bool | None = None
    canary_detail: str = ""


@dataclass(frozen=True)
class AccelDecision:
    accel: str
    reason: str
    needs_canary: bool = False


def decide_accel(facts: AccelFacts, requested: str = "auto") -> AccelDecision:
    """KVM, TCG, or "run the canary first" from what was observed on the host."""
    if requested == "tcg":
        return AccelDecision("tcg", "TCG was requested by configuration.")
    if not facts.kvm_device:
        return AccelDecision("tcg", "/dev/kvm does not exist on this host.")
    hw = [m for m in facts.modules if m in HW_MODULES]
    if not hw:
        others = ", ".join(m for m in facts.modules if m != "kvm") or "none"
        return AccelDecision(
            "tcg",
            f"/dev/kvm exists but no hardware KVM module (kvm_intel/kvm_amd) is loaded "
            f"(other KVM modules: {others}); stock guest kernels hang on such a KVM.",
        )
    if not facts.cpu_virt_flags:
        return AccelDecision("tcg", f"{hw[0]} is loaded but the CPU shows no vmx/svm flag.")
    if facts.canary_ok is None:
        return AccelDecision("tcg", "The KVM canary boot has not run yet.", needs_canary=True)
    if not facts.canary_ok:
        return AccelDecision("tcg", f"The KVM canary boot did not reach init: {facts.canary_detail}")
    return AccelDecision("kvm", f"{hw[0]} is loaded and a canary guest booted under KVM.")


def observe_host() -> AccelFacts:
    modules = tuple(m for m in (*HW_MODULES, *OTHER_MODULES) if Path("/sys/module", m).exists())
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags |= set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return AccelFacts(
        kvm_device=Path("/dev/kvm").exists(),
        modules=modules,
        cpu_virt_flags=tuple(sorted(flags & {"vmx", "svm"})),
    )


def run_canary(
    qemu: str, kernel: Path, initrd: Path, timeout: float = 15.0, accel: str = "kvm"
) -> tuple[bool, str]:
    """Boot the canary under ``accel``; ``(True, detail)`` when its init printed the marker in time."""
    with tempfile.TemporaryDirectory(prefix="hx-canary-") as tmp:
        log_path = Path(tmp) / "serial.log"
        argv = [
            qemu, "-accel", accel, *(["-cpu", "host"] if accel == "kvm" else []),
            "-M", "q35", "-m", "256", "-smp", "1",
            "-display", "none", "-nodefaults", "-no-reboot", "-serial", f"file:{log_path}",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0 quiet panic=-1 hexagone.canary",
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                text = log_path.read_text(errors="replace") if log_path.exists() else ""
                if CANARY_MARKER in text:
                    return True, text.split(CANARY_MARKER, 1)[1].strip()[:60]
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    return False, f"QEMU exited with {proc.returncode}: {err.strip()[-300:]}"
                time.sleep(0.2)
            return False, f"no marker on the serial console within {timeout:.0f} s"
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stderr:
                proc.stderr.close()


def _fingerprint(qemu: str) -> str:
    binary = shutil.which(qemu) or qemu
    try:
        mtime = os.stat(binary).st_mtime_ns
    except OSError:
        mtime = 0
    modules = ",".join(m for m in (*HW_MODULES, *OTHER_MODULES) if Path("/sys/module", m).exists())
    return f"{os.uname().release}|{modules}|{binary}|{mtime}"


def probe_accel(
    state_dir: Path,
    qemu: str = "qemu-system-x86_64",
    canary: tuple[Path, Path] | None = None,
    requested: str = "auto",
) -> AccelDecision:
    """Decide (or read the cached decision) and log a warning whenever the answer is TCG."""
    cache = state_dir / "accel.json"
    fingerprint = f"{requested}|{_fingerprint(qemu)}"
    if cache.exists():
        try:
            data = json.loads(cache.read_text())
            if data.get("fingerprint") == fingerprint:
                return AccelDecision(accel=data["accel"], reason=data["reason"])
        except (OSError, ValueError, KeyError):
            pass
    facts = observe_host()
    decision = decide_accel(facts, requested)
    if decision.needs_canary:
        if canary is None:
            facts = replace(facts, canary_ok=False, canary_detail="no canary image was configured")
            decision = decide_accel(facts, requested)
        else:
            ok, detail = run_canary(qemu, *canary)
            facts = replace(facts, canary_ok=ok, canary_detail=detail)
            decision = decide_accel(facts, requested)
    if decision.accel == "tcg":
        log.warning("compute host uses TCG software emulation (slow): %s", decision.reason)
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    record = {"fingerprint": fingerprint, **asdict(decision), "facts": asdict(facts)}
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, cache)
    return decision
