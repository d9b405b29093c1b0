"""SSH public key parsing and fingerprints, checked against ssh-keygen itself (run as a subprocess:
the code under test is pure, the oracle is not)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from hexagone.compute.keypairs import generate_ed25519, parse_public_key
from hexagone.errors import InvalidInput

pytestmark = [pytest.mark.unit,
              pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")]


def _keygen(tmp_path: Path, *args: str) -> Path:
    path = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-C", "me@example", "-f", str(path), *args], check=True)
    return path


def _fingerprint(pub: Path, hash_name: str) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", hash_name, "-f", str(pub)], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


KINDS = {"ed25519": ("-t", "ed25519"), "ecdsa": ("-t", "ecdsa", "-b", "256"),
         "rsa": ("-t", "rsa", "-b", "2048")}


@pytest.mark.parametrize("args", list(KINDS.values()), ids=list(KINDS))
def test_fingerprints_match_ssh_keygen(tmp_path, args):
    pub = _keygen(tmp_path, *args).with_suffix(".pub")
    key = parse_public_key(pub.read_text())
    assert key.fingerprint_sha256 == _fingerprint(pub, "sha256")
    assert "MD5:" + key.fingerprint_md5 == _fingerprint(pub, "md5")
    assert key.comment == "me@example"
    assert key.openssh == pub.read_text().strip()


def test_generated_key_is_a_valid_pair(tmp_path):
    private, public = generate_ed25519("generated")
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    path = tmp_path / "id"
    path.write_text(private)
    path.chmod(0o600)
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], check=True, capture_output=True,
                             text=True).stdout.split()
    assert public.split()[:2] == derived[:2]
    assert parse_public_key(public).key_type == "ssh-ed25519"


def _blob(*fields: bytes) -> str:
    return base64.b64encode(b"".join(len(f).to_bytes(4, "big") + f for f in fields)).decode()


ED = _blob(b"ssh-ed25519", b"\x01" * 32)
SHORT_RSA = _blob(b"ssh-rsa", b"\x01\x00\x01", b"\x00" + b"\xff" * 128)
P384 = _blob(b"ecdsa-sha2-nistp256", b"nistp384", b"\x04" + b"x" * 64)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("ssh-dss AAAAB3NzaC1kc3M= x", "not accepted"),
        ("ssh-ed25519", "no key data"),
        ("ssh-ed25519 not*base64", "not valid base64"),
        (f"ssh-rsa {ED}", "is a 'ssh-ed25519' key, not ssh-rsa"),
        (f"ssh-ed25519 {_blob(b'ssh-ed25519', b'short')}", "32 bytes"),
        (f"ssh-ed25519 {_blob(b'ssh-ed25519', b'x' * 32, b'extra')}", "trailing"),
        (f"ssh-ed25519 {ED[:-8]}", "cut short"),
        (f"ssh-rsa {SHORT_RSA}", "at least 2048 bits"),
        (f"ecdsa-sha2-nistp256 {P384}", "P-256"),
        (f"ssh-ed25519 {ED} one\nssh-ed25519 {ED} two", "single line"),
        (f'command="rm -rf /" ssh-ed25519 {ED}', "not accepted"),
        ("-----BEGIN OPENSSH PRIVATE KEY----- abc", "private key"),
        (f"ssh-ed25519 {ED} bad\x00comment", "control characters"),
    ],
)
def test_bad_keys_are_refused_with_a_reason(text, reason):
    with pytest.raises(InvalidInput) as err:
        parse_public_key(text)
    assert reason in err.value.message


def test_normalises_whitespace_and_keeps_comment_spaces():
    key = parse_public_key(f"  ssh-ed25519   {ED}   my laptop key \n")
    assert key.openssh == f"ssh-ed25519 {ED} my laptop key"


@pytest.mark.parametrize("bits", [384, 521])
def test_ecdsa_p384_and_p521_keys_are_accepted(tmp_path, bits):
    """Tempest and ssh-keygen users import P-384/P-521 keys; their fingerprints match ssh-keygen's."""
    import subprocess

    from hexagone.compute.keypairs import parse_public_key

    path = tmp_path / f"k{bits}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-b", str(bits), "-N", "", "-f", str(path)], check=True)
    line = path.with_suffix(".pub").read_text()
    parsed = parse_public_key(line)
    expected = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path.with_suffix(".pub"))],
                              check=True, capture_output=True, text=True).stdout.split()[1]
    assert parsed.fingerprint_sha256 == expected
