"""The NoCloud seed: a small ISO (volume label ``cidata``) carrying an instance's identity.

* ``meta-data``: ``instance-id``, ``local-hostname`` and ``public-keys``, one JSON-quoted value per
  line, so that both cloud-init and the tiny image's shell can read it.
* ``user-data``: a ``#cloud-config`` with the hostname, the SSH keys, the default user's password
  hash when the spec has one (``password: "$6$..."``, which cloud-init sets with ``chpasswd -e``
  and the tiny image's init reads from the same line) and a ``runcmd`` printing the ready marker
  on the serial console; when the spec carries its own ``user_data``, both go in a MIME multipart
  message, which cloud-init merges. Only hashes reach the seed, never a clear password.
* ``network-config``: DHCP on the NIC matched by its MAC, named ``eth0``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

from hexagone.compute.driver import READY_MARKER, InstanceSpec
from hexagone.errors import PermanentError


def _q(value: str) -> str:
    return json.dumps(value)


def meta_data(spec: InstanceSpec) -> str:
    lines = [f"instance-id: {_q(spec.instance_id)}", f"local-hostname: {_q(spec.guest_hostname)}"]
    if spec.ssh_authorized_keys:
        lines.append("public-keys:")
        lines += [f"  - {_q(key)}" for key in spec.ssh_authorized_keys]
    return "\n".join(lines) + "\n"


def _cloud_config(spec: InstanceSpec) -> str:
    lines = ["#cloud-config", f"hostname: {_q(spec.guest_hostname)}", "preserve_hostname: false"]
    if spec.ssh_authorized_keys:
        lines.append("ssh_authorized_keys:")
        lines += [f"  - {_q(key)}" for key in spec.ssh_authorized_keys]
    if spec.admin_password_hash:
        lines += [f"password: {_q(spec.admin_password_hash)}", "chpasswd:", "  expire: false"]
    marker = f"echo {READY_MARKER} hostname=$(hostname) > /dev/ttyS0"
    lines += ["runcmd:", f"  - [sh, -c, {_q(marker)}]"]
    return "\n".join(lines) + "\n"


def user_data(spec: InstanceSpec) -> str:
    ours = _cloud_config(spec)
    if not spec.user_data:
        return ours
    message = MIMEMultipart()
    message.attach(MIMEText(ours, "cloud-config"))
    # text/plain: cloud-init types the part from its first line (#cloud-config, #!, ...).
    message.attach(MIMEText(spec.user_data, "plain"))
    return message.as_string()


def network_config(spec: InstanceSpec) -> str:
    if not spec.mac:
        return "version: 2\nethernets: {}\n"
    return (
        "version: 2\n"
        "ethernets:\n"
        "  eth0:\n"
        f"    match: {{macaddress: {_q(spec.mac)}}}\n"
        "    set-name: eth0\n"
        "    dhcp4: true\n"
    )


def seed_files(spec: InstanceSpec) -> dict[str, str]:
    return {
        "meta-data": meta_data(spec),
        "user-data": user_data(spec),
        "network-config": network_config(spec),
    }


def build_seed(dest: Path, spec: InstanceSpec) -> None:
    """Write the seed ISO for ``spec`` to ``dest`` (with ``genisoimage``)."""
    with tempfile.TemporaryDirectory(prefix="hx-seed-") as tmp:
        names = []
        for name, body in seed_files(spec).items():
            (Path(tmp) / name).write_text(body)
            names.append(name)
        argv = ["genisoimage", "-quiet", "-output", str(dest.resolve()), "-volid", "cidata"]
        result = subprocess.run(
            [*argv, "-joliet", "-rock", *names],
            cwd=tmp, capture_output=True, text=True, check=False,
        )
    if result.returncode != 0:
        raise PermanentError(f"genisoimage could not build the seed: {result.stderr.strip()[-300:]}")
