"""Tenants on one host cannot reach each other on the default network (issue 8 item 5): two tiny VMs
(two customers) on one bridge; the first sends spoofed ARP (claiming the second's address and the
gateway's) and runs a rogue DHCP server while the second asks for a lease. Raw sockets on the
host side watch the second VM's tap (what is delivered to it) and the bridge (what reaches the
host): nothing of the first VM reaches the second, no spoofed ARP reaches the host, the second
gets its lease from the host only; honest traffic to the host still works."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from hexagone.compute.driver import InstanceSpec, wait_until_ready
from hexagone.compute.drivers.guestssh import wait_for_ssh
from hexagone.compute.drivers.qemu_files import tap_name
from tests.integration.conftest_qemu import cached_tiny_image, make_ssh_key, qemu_driver

pytestmark = [pytest.mark.integration, pytest.mark.qemu]

#: Run inside the namespace: print "<src mac> <ethertype> <packet type> <frame hex>" per frame.
SNIFFER = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
end = time.monotonic() + float(sys.argv[2])
print("READY", flush=True)
while time.monotonic() < end:
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    print(data[6:12].hex(":"), data[12:14].hex(), addr[2], data[:64].hex(), flush=True)
"""

MAC1, MAC2 = "52:54:00:30:00:0a", "52:54:00:30:00:0b"
IP1, IP2, GW = "10.204.0.10", "10.204.0.11", "10.204.0.1"

UDHCPD = f"""cat > /tmp/u.conf <<EOF
start 10.204.0.200
end 10.204.0.210
interface eth0
lease_file /tmp/u.leases
option router {IP1}
EOF
touch /tmp/u.leases; udhcpd /tmp/u.conf; sleep 1; pidof udhcpd"""


def _sniff(driver, device: str, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(driver.network.exec_argv(["python3", "-c", SNIFFER, device, str(seconds)]),
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    return proc


def _frames(proc: subprocess.Popen[str]) -> list[tuple[str, str, int, bytes]]:
    out, _ = proc.communicate(timeout=60)
    frames = []
    for line in out.splitlines():
        mac, ethertype, pkttype, raw = line.split()
        frames.append((mac, ethertype, int(pkttype), bytes.fromhex(raw)))
    return frames


def _arp_sender_ip(frame: bytes) -> str:
    return ".".join(str(b) for b in frame[28:32])


def test_spoofed_arp_and_a_rogue_dhcp_server_never_reach_another_tenant(tmp_path: Path) -> None:
    image = cached_tiny_image()
    key, public_key = make_ssh_key(tmp_path)
    with qemu_driver(tmp_path / "host", subnet=f"{GW}/24") as driver:
        assert driver.network is not None
        for n, (mac, ip) in enumerate(((MAC1, IP1), (MAC2, IP2)), start=1):
            driver.spawn(InstanceSpec(instance_id=f"iso-{n}", name=f"customer {n}", vcpus=1, ram_mb=128,
                                      disk_gb=1, image_path=str(image), mac=mac, ip=ip,
                                      ssh_authorized_keys=(public_key,)))  # fmt: skip
        for n, ip in ((1, IP1), (2, IP2)):
            wait_until_ready(driver, f"iso-{n}", timeout=180)
            wait_for_ssh(driver.network, ip, key, timeout=60)

        seconds = 25.0
        to_vm2 = _sniff(driver, tap_name("iso-2"), seconds)
        to_host = _sniff(driver, driver.network.config.bridge, seconds)
        started = time.monotonic()
        # Honest traffic to the host works (and shows that the capture on the bridge sees it).
        honest = driver.ssh("iso-1", f"arping -c 2 -I eth0 {GW} && ping -c 2 -W 2 {GW}", key)
        assert honest.returncode == 0, honest.stdout + honest.stderr
        # The first VM cannot reach the second at all, and lies about its address.
        assert driver.ssh("iso-1", f"ping -c 2 -W 2 {IP2}", key).returncode != 0
        driver.ssh("iso-1", f"arping -c 3 -U -s {IP2} -I eth0 {IP2}; arping -c 3 -U -s {GW} -I eth0 {GW}; true",
                   key)  # fmt: skip
        # A rogue DHCP server in the first VM; the second asks for a lease.
        rogue = driver.ssh("iso-1", UDHCPD, key)
        assert rogue.returncode == 0 and rogue.stdout.strip(), rogue.stdout + rogue.stderr
        lease = driver.ssh("iso-2", "udhcpc -i eth0 -n -q -t 4 -T 1 -s /bin/true 2>&1", key)
        assert f"lease of {IP2} obtained from {GW}" in lease.stdout, lease.stdout
        assert "10.204.0.20" not in lease.stdout
        assert time.monotonic() - started < seconds - 2, "the capture ended before the attack did"

        delivered = _frames(to_vm2)
        reached_host = _frames(to_host)
        assert [f for f in delivered if f[0] == MAC1] == [], "a frame of the first VM reached the second"
        from_vm1 = [f for f in reached_host if f[0] == MAC1]
        arps = [_arp_sender_ip(f[3]) for f in from_vm1 if f[1] == "0806"]
        assert IP1 in arps, f"the capture saw no honest ARP: {from_vm1}"
        assert set(arps) == {IP1}, f"spoofed ARP reached the host: {arps}"
        dhcp_replies = [f for f in from_vm1 if f[1] == "0800" and f[3][23] == 17
                        and int.from_bytes(f[3][14 + 4 * (f[3][14] & 15):][:2], "big") == 67]  # fmt: skip
        assert dhcp_replies == []
