"""The host network: one network namespace holding a bridge, dnsmasq and one tap per VM.

Layout (nothing is created in the host's root namespace)::

    netns <namespace>
      lo
      <bridge>  <address>           e.g. hxbr0 10.200.0.1/24, the guests' gateway
        ├── tap of VM 1   ── QEMU (launched inside the namespace with ``ip netns exec``)
        └── tap of VM 2
      dnsmasq: DHCP only (no DNS), one ``MAC,IP,hostname`` reservation per VM

dnsmasq's files (pid, leases, reservations, log) are runtime state and live under
``<runtime_dir>/net-<namespace>/``, like the namespace itself they do not survive a host reboot.
The host reaches guests by running commands inside the namespace (``exec_argv``).

Tenant isolation on this shared bridge (until tenant networks exist): every tap is an *isolated*
bridge port (it can reach the bridge, i.e. the host, and never another tap), and an nftables
``bridge`` table in the namespace filters what enters from each tap: only the VM's own MAC as
source, ARP only with its own sender MAC and IP, IPv4 only from its own address (or the DHCP
client's 0.0.0.0), no DHCP server replies (UDP source port 67: only the host's dnsmasq answers),
nothing but IPv4 and ARP. See docs/security-host.md.

Uplink/NAT is not configured (the namespace has no way out); when it is, it belongs in
``HostNetwork.ensure`` (a veth pair to the root namespace plus an nftables masquerade rule).
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hexagone.errors import PermanentError


@dataclass(frozen=True)
class HostNetworkConfig:
    namespace: str = "hx-host"
    bridge: str = "hxbr0"
    address: str = "10.200.0.1/24"
    dhcp_pool: tuple[str, str] | None = None  # None: the upper half of the subnet
    lease_seconds: int = 3600
    runtime_dir: Path = Path("/run/hexagone")
    isolate_ports: bool = True  # port isolation + nftables anti-spoofing (docs/security-host.md)


NFT_TABLE = "hexagone_ports"


def port_rules(tap: str, mac: str, ip: str | None) -> str:
    """The nftables script that lets only ``mac`` (and ``ip``) leave the VM behind ``tap``;
    idempotent (the port's chain is flushed and refilled)."""
    chain = f"port_{tap}"
    rules = [
        f"ether saddr != {mac} drop",
        f"arp saddr ether != {mac} drop",
        *([f"arp saddr ip != {ip} drop"] if ip else []),
        "ip protocol udp udp sport 67 drop",  # no DHCP server in a guest
        "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept",
        *([f"ip saddr != {ip} drop"] if ip else []),
        "ether type != { ip, arp } drop",
        "accept",
    ]
    lines = [f"add chain bridge {NFT_TABLE} {chain}", f"flush chain bridge {NFT_TABLE} {chain}"]
    lines += [f"add rule bridge {NFT_TABLE} {chain} {rule}" for rule in rules]
    lines.append(f'add element bridge {NFT_TABLE} ports {{ "{tap}" : jump {chain} }}')
    return "\n".join(lines) + "\n"


BASE_RULES = f"""table bridge {NFT_TABLE} {{
  map ports {{ type ifname : verdict; }}
  chain prerouting {{
    type filter hook prerouting priority -200; policy accept;
    iifname vmap @ports
    iifname "hxt*" drop
  }}
}}
"""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise PermanentError(f"'ip {' '.join(args)}' failed: {result.stderr.strip()}")
    return result


def pid_alive(pid: int) -> bool:
    """True for a live process (a zombie counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


class HostNetwork:
    def __init__(self, config: HostNetworkConfig) -> None:
        self.config = config
        self.iface = ipaddress.ip_interface(config.address)
        # Absolute: dnsmasq daemonises into "/", where a relative path names nothing.
        self.run_dir = config.runtime_dir.resolve() / f"net-{config.namespace}"

    @property
    def namespace(self) -> str:
        return self.config.namespace

    @property
    def gateway(self) -> str:
        return str(self.iface.ip)

    def exec_argv(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def exists(self) -> bool:
        return Path("/run/netns", self.namespace).exists()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    # -- lifecycle ----------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create whatever is missing (namespace, bridge, address, dnsmasq); idempotent."""
        self._ensure_links()
        self._ensure_dhcp()

    def _ensure_links(self) -> None:
        with self._locked():
            ns, br = self.namespace, self.config.bridge
            if not self.exists():
                _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            if _ip("-n", ns, "link", "show", br, check=False).returncode != 0:
                _ip("-n", ns, "link", "add", br, "type", "bridge")
            if str(self.iface) not in _ip("-n", ns, "-4", "addr", "show", "dev", br).stdout:
                _ip("-n", ns, "addr", "add", str(self.iface), "dev", br)
            _ip("-n", ns, "link", "set", br, "up")
            if self.config.isolate_ports and self._nft("list table bridge " + NFT_TABLE, check=False) != 0:
                self._nft(BASE_RULES)

    def _ensure_dhcp(self) -> None:
        with self._locked():
            hosts = self.run_dir / "dhcp-hosts"
            if not hosts.exists():
                hosts.write_text("")
                hosts.chmod(0o644)
            if self.dnsmasq_pid() is None:
                self._start_dnsmasq()

    def teardown(self) -> None:
        """Stop dnsmasq and delete the namespace (with its bridge and taps); idempotent."""
        pid = self.dnsmasq_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not pid_alive(pid):
                    break
                time.sleep(0.05)
        if self.exists():
            _ip("netns", "del", self.namespace)
        if self.run_dir.exists():
            for f in self.run_dir.iterdir():
                f.unlink()
            self.run_dir.rmdir()

    # -- ports --------------------------------------------------------------------------------

    def add_port(self, tap: str, mac: str, ip: str | None, hostname: str) -> None:
        """Create ``tap`` on the bridge and reserve ``ip`` for ``mac``; idempotent."""
        if ip is not None and ipaddress.ip_address(ip) not in self.iface.network:
            raise PermanentError(f"Address {ip} is outside the host network {self.iface.network}.")
        self._ensure_links()
        ns = self.namespace
        if not self.has_port(tap):
            _ip("-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
        _ip("-n", ns, "link", "set", tap, "master", self.config.bridge, "up")
        if self.config.isolate_ports:
            _ip("-n", ns, "link", "set", "dev", tap, "type", "bridge_slave", "isolated", "on")
            self._nft(port_rules(tap, mac, ip))
        # The reservation is written before dnsmasq is (re)started, so a fresh dnsmasq reads it
        # at start-up; a running one re-reads it on SIGHUP.
        self._edit_hosts(mac, f"{mac},{ip},{hostname}" if ip else f"{mac},{hostname}")
        self._ensure_dhcp()

    def remove_port(self, tap: str, mac: str) -> None:
        """Delete ``tap`` and the reservation of ``mac``; idempotent."""
        if self.exists() and self.has_port(tap):
            _ip("-n", self.namespace, "link", "del", tap, check=False)
        if self.exists() and self.config.isolate_ports:
            self._nft(f'delete element bridge {NFT_TABLE} ports {{ "{tap}" }}', check=False)
            self._nft(f"delete chain bridge {NFT_TABLE} port_{tap}", check=False)
        if (self.run_dir / "dhcp-hosts").exists():
            self._edit_hosts(mac, None)

    def _nft(self, script: str, check: bool = True) -> int:
        """Run an nftables script inside the namespace; its return code."""
        result = subprocess.run(self.exec_argv(["nft", "-f", "-"]), input=script, capture_output=True, text=True,
                                check=False)
        if check and result.returncode != 0:
            raise PermanentError(f"nftables refused the port rules in {self.namespace}: {result.stderr.strip()}")
        return result.returncode

    def has_port(self, tap: str) -> bool:
        return self.exists() and _ip("-n", self.namespace, "link", "show", tap, check=False).returncode == 0

    def lease_ip(self, mac: str) -> str | None:
        """The address dnsmasq leased to ``mac``, if any."""
        leases = self.run_dir / "leases"
        if leases.exists():
            for line in leases.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[1].lower() == mac.lower():
                    return parts[2]
        return None

    # -- dnsmasq ------------------------------------------------------------------------------

    def _edit_hosts(self, mac: str, entry: str | None) -> None:
        with self._locked():
            path = self.run_dir / "dhcp-hosts"
            current = path.read_text() if path.exists() else ""
            lines = [ln for ln in current.splitlines() if ln and not ln.startswith(mac + ",")]
            if entry:
                lines.append(entry)
            tmp = path.with_suffix(".tmp")
            tmp.write_text("".join(f"{ln}\n" for ln in lines))
            tmp.chmod(0o644)
            os.replace(tmp, path)
            pid = self.dnsmasq_pid()
            if pid is not None:
                os.kill(pid, signal.SIGHUP)

    def dnsmasq_pid(self) -> int | None:
        pidfile = self.run_dir / "dnsmasq.pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        if pid_alive(pid) and f"--pid-file={pidfile}".encode() in cmdline:
            return pid
        return None

    def _start_dnsmasq(self) -> None:
        net = self.iface.network
        lease = f"{self.config.lease_seconds}s"
        if self.config.dhcp_pool:
            first, last = self.config.dhcp_pool
        else:  # the upper half of the subnet; reservations (the control plane's IPAM) use the lower
            first = str(net.network_address + net.num_addresses // 2)
            last = str(net.broadcast_address - 1)
        dhcp_range = f"{first},{last},{net.netmask},{lease}"
        d = self.run_dir
        self.run_dir.chmod(0o755)
        argv = self.exec_argv([
            "dnsmasq", "--conf-file=/dev/null", "--port=0", f"--interface={self.config.bridge}",
            "--bind-interfaces", "--except-interface=lo", f"--dhcp-range={dhcp_range}",
            f"--dhcp-hostsfile={d / 'dhcp-hosts'}", "--dhcp-authoritative",
            f"--dhcp-option=option:router,{self.gateway}", f"--dhcp-leasefile={d / 'leases'}",
            f"--pid-file={d / 'dnsmasq.pid'}", f"--log-facility={d / 'dnsmasq.log'}",
        ])
        with tempfile.TemporaryFile() as err:
            result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=err, check=False, timeout=30)
            err.seek(0)
            message = err.read().decode(errors="replace").strip()
        if result.returncode != 0:
            raise PermanentError(f"dnsmasq did not start in namespace {self.namespace}: {message}")
