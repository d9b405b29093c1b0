"""``hexagone agent``: the entry point of a compute host's agent.

It is the agent process's own small composition root: it knows the concrete compute drivers and
nothing of the control plane (no web framework, no database), which keeps its memory small.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from hexagone.compute.driver import ComputeDriver

agent_app = typer.Typer(add_completion=False, pretty_exceptions_show_locals=False)  # never print secrets


def make_driver(kind: str, state_dir: Path, namespace: str = "hx-local", cidr: str = "10.200.0.1/24",
                runtime_dir: Path | None = None, bridge: str = "hxbr0") -> ComputeDriver:
    """The compute driver: ``qemu`` (real VMs, needs root and QEMU) or ``fake`` (simulation).

    Paths are made absolute here, once: QEMU and dnsmasq daemonise and change directory, so a
    relative path would name another file for them. Host-network runtime state goes under
    ``runtime_dir`` (default ``/run/hexagone/<namespace>``), where dnsmasq (user ``nobody``) can
    read it wherever the state directory is."""
    if kind == "fake":
        from hexagone.compute.drivers.fake import FakeDriver

        state_dir.mkdir(parents=True, exist_ok=True)
        return FakeDriver(state_path=state_dir / "fake-instances.json")  # the guests outlive the agent
    if kind != "qemu":
        raise typer.BadParameter("driver must be qemu or fake")
    from hexagone.compute.drivers.hostnet import HostNetworkConfig
    from hexagone.compute.drivers.qemu import QemuDriver, QemuDriverConfig

    state_dir = state_dir.resolve()
    runtime_dir = (runtime_dir or Path("/run/hexagone") / namespace).resolve()
    net = HostNetworkConfig(namespace=namespace, bridge=bridge, address=cidr, runtime_dir=runtime_dir)
    return QemuDriver(QemuDriverConfig(state_dir=state_dir / "qemu", network=net))


@agent_app.command()
def agent(
    url: Annotated[str, typer.Option(envvar="HEXAGONE_AGENT_URL", help="Control plane URL.")],
    state_dir: Annotated[Path, typer.Option(envvar="HEXAGONE_AGENT_STATE_DIR", help="Agent state directory.")] = Path(
        "/var/lib/hexagone/agent"
    ),
    name: Annotated[str, typer.Option(help="Host name to join with.")] = "",
    join_token: Annotated[str | None, typer.Option(envvar="HEXAGONE_JOIN_TOKEN", help="One-time join token.")] = None,
    driver: Annotated[str, typer.Option(help="qemu or fake.")] = "qemu",
    namespace: Annotated[str, typer.Option(help="Network namespace of the host network.")] = "hx-local",
    cidr: Annotated[str, typer.Option(help="Address of the host bridge (default network).")] = "10.200.0.1/24",
    bridge: Annotated[str, typer.Option(help="Name of the host bridge inside the namespace.")] = "hxbr0",
    runtime_dir: Annotated[Path | None, typer.Option(
        help="Host-network runtime state (dnsmasq). Default: /run/hexagone/<namespace>.")] = None,
) -> None:
    """Run the compute agent of this host: join, pull desired state, converge, report."""
    from hexagone import logs
    from hexagone.agent.loop import Agent, AgentConfig

    logs.configure("INFO", False)
    state_dir = state_dir.resolve()
    drv = make_driver(driver, state_dir, namespace, cidr, runtime_dir, bridge)
    net = cidr.rsplit(".", 1)[0] + ".0/" + cidr.split("/")[1]  # the fake driver simulates addresses too
    cfg = AgentConfig(url=url, state_dir=state_dir, name=name or socket.gethostname(), join_token=join_token,
                      network_cidr=net, network_namespace=namespace if driver == "qemu" else None)
    raise typer.Exit(Agent(cfg, drv).run_forever())
