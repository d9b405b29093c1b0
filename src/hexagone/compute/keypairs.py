"""SSH keypairs: per user, imported (public key given) or generated (ed25519, private key shown once).

The parsing and fingerprint functions at the top are pure (no database, no I/O). A public key is
accepted only as one line ``<type> <base64> [comment]`` whose type is ``ssh-ed25519``, ``ssh-rsa``
(2048 bits or more) or ``ecdsa-sha2-nistp256``, and whose base64 decodes to a well-formed SSH wire
blob of that same type. Anything else — options (``command=...``), several keys, a private key, a
PEM/PuTTY file — is refused with a sentence saying what to send instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hexagone.authz.policy import Target, visible_scopes
from hexagone.db.compute_models import Keypair
from hexagone.db.pagination import paginate
from hexagone.errors import Conflict, HexagoneError, InvalidInput, NotFound
from hexagone.ids import is_id, new_id
from hexagone.usecase import UseCase

KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
#: curve name -> length of an uncompressed point (0x04 || X || Y)
EC_POINT_BYTES = {b"nistp256": 65, b"nistp384": 97, b"nistp521": 133}
MAX_KEY_LENGTH = 16384
MAX_COMMENT = 255
MIN_RSA_BITS = 2048
_FORMAT_HINT = "send one line 'ssh-ed25519 AAAA... comment' as found in ~/.ssh/id_ed25519.pub"


@dataclass(frozen=True)
class PublicKey:
    """A validated SSH public key."""

    key_type: str
    blob: bytes
    comment: str

    @property
    def openssh(self) -> str:
        """The normalised authorized_keys line."""
        line = f"{self.key_type} {base64.b64encode(self.blob).decode()}"
        return f"{line} {self.comment}" if self.comment else line

    @property
    def fingerprint_sha256(self) -> str:
        return fingerprint_sha256(self.blob)

    @property
    def fingerprint_md5(self) -> str:
        return fingerprint_md5(self.blob)


def fingerprint_sha256(blob: bytes) -> str:
    """OpenSSH's fingerprint: ``SHA256:`` + unpadded base64 of the blob's SHA-256."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def fingerprint_md5(blob: bytes) -> str:
    """The legacy fingerprint (OpenStack's ``fingerprint``): colon-separated hex of the blob's MD5."""
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _read_string(blob: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise ValueError("the key data is cut short")
    length = int.from_bytes(blob[offset : offset + 4], "big")
    end = offset + 4 + length
    if end > len(blob):
        raise ValueError("the key data is cut short")
    return blob[offset + 4 : end], end


def _check_blob(key_type: str, blob: bytes) -> None:
    """Walk the SSH wire format of ``blob`` (RFC 4253, 8709, 5656); raise ValueError on any flaw."""
    declared, pos = _read_string(blob, 0)
    if declared != key_type.encode():
        raise ValueError(f"the key data is a {declared.decode('ascii', 'replace')!r} key, not {key_type}")
    if key_type == "ssh-ed25519":
        point, pos = _read_string(blob, pos)
        if len(point) != 32:
            raise ValueError("an ed25519 key is 32 bytes long")
    elif key_type == "ssh-rsa":
        exponent, pos = _read_string(blob, pos)
        modulus, pos = _read_string(blob, pos)
        if not exponent or int.from_bytes(exponent, "big") < 3:
            raise ValueError("the RSA exponent is not valid")
        bits = int.from_bytes(modulus, "big").bit_length()
        if bits < MIN_RSA_BITS:
            raise ValueError(f"RSA keys need at least {MIN_RSA_BITS} bits (this one has {bits}); "
                             "generate an ed25519 key instead")
        if bits > 16384:
            raise ValueError("RSA keys above 16384 bits are not accepted")
    else:
        curve, pos = _read_string(blob, pos)
        point, pos = _read_string(blob, pos)
        if (curve not in EC_POINT_BYTES or key_type != "ecdsa-sha2-" + curve.decode()
                or len(point) != EC_POINT_BYTES[curve] or point[0] != 4):
            raise ValueError("the ECDSA key is not an uncompressed NIST P-256, P-384 or P-521 point")
    if pos != len(blob):
        raise ValueError("the key data has trailing bytes")


def parse_public_key(text: str) -> PublicKey:
    """Validate an OpenSSH public key line; raise InvalidInput with the reason otherwise."""
    line = text.strip()
    if not line:
        raise InvalidInput(f"The public key is empty: {_FORMAT_HINT}.")
    if len(line) > MAX_KEY_LENGTH:
        raise InvalidInput(f"The public key is longer than {MAX_KEY_LENGTH} characters: {_FORMAT_HINT}.")
    if "\n" in line or "\r" in line:
        raise InvalidInput(f"The public key must be a single line holding one key: {_FORMAT_HINT}.")
    if "PRIVATE KEY" in line:
        raise InvalidInput("This is a private key: never send it. Send the matching public key (.pub).")
    if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in line):
        raise InvalidInput("The public key contains control characters: " + _FORMAT_HINT + ".")
    parts = line.split(None, 2)
    key_type = parts[0]
    if key_type not in KEY_TYPES:
        raise InvalidInput(
            f"Key type {key_type[:40]!r} is not accepted: use {', '.join(KEY_TYPES)} ({_FORMAT_HINT})."
        )
    if len(parts) < 2:
        raise InvalidInput(f"The public key has no key data after its type: {_FORMAT_HINT}.")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"The key data is not valid base64: {_FORMAT_HINT}.") from exc
    try:
        _check_blob(key_type, blob)
    except ValueError as exc:
        raise InvalidInput(f"The public key is not a valid {key_type} key: {exc}.") from exc
    comment = parts[2].strip() if len(parts) > 2 else ""
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"The key comment is longer than {MAX_COMMENT} characters; shorten it.")
    return PublicKey(key_type, blob, comment)


def generate_ed25519(comment: str) -> tuple[str, str]:
    """A new ed25519 keypair from ``ssh-keygen``: (private key in OpenSSH format, public key line)."""
    with tempfile.TemporaryDirectory(prefix="hexagone-key-") as tmp:
        path = Path(tmp) / "key"
        result = subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            capture_output=True, text=True, check=False, timeout=30,
        )
        if result.returncode != 0:
            raise HexagoneError("The server could not generate a key; import your own public key instead.")
        return path.read_text(), (path.with_suffix(".pub")).read_text().strip()


# --- the keypair service --------------------------------------------------------------------------

def _authorize(uc: UseCase, permission: str) -> str:
    """Keypairs belong to the user; the user needs ``permission`` on some scope it holds a role on."""
    principal = uc.require_principal()
    paths, projects = visible_scopes(principal, permission)
    project_id = None if paths or not projects else projects[0]
    target = Target(org_path=paths[0] if paths else principal.org_path, project_id=project_id,
                    owner_user_id=principal.user_id)
    uc.authorize(target, permission, what="keypair")
    return principal.user_id


def _load(uc: UseCase, user_id: str, name_or_id: str) -> Keypair:
    stmt = select(Keypair).where(Keypair.user_id == user_id)
    key = uc.session.execute(stmt.where(Keypair.name == name_or_id)).scalar_one_or_none()
    if key is None and is_id(name_or_id):
        key = uc.session.execute(stmt.where(Keypair.id == name_or_id)).scalar_one_or_none()
    if key is None:
        raise NotFound(f"You have no keypair named '{name_or_id[:255]}': list /v1/keypairs.")
    return key


def create_keypair(uc: UseCase, name: str, public_key: str | None) -> tuple[Keypair, str | None]:
    """Import ``public_key``, or generate a keypair when it is None. Returns the keypair and the
    private key (generated keys only; it is stored nowhere and cannot be shown again)."""
    user_id = _authorize(uc, "keypair.create")
    principal = uc.require_principal()
    private_key = None
    if public_key is None:
        private_key, public_key = generate_ed25519(name)
    key = parse_public_key(public_key)
    row = Keypair(id=new_id(), user_id=user_id, org_path=principal.org_path, name=name,
                  public_key=key.openssh, fingerprint=key.fingerprint_sha256, type="ssh", created_at=uc.now)
    uc.session.add(row)
    try:
        with uc.session.begin_nested():
            uc.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"You already have a keypair named '{name}'; delete it or pick another name.") from exc
    uc.audit("keypair.create", "keypair", row.id, principal.org_id, principal.org_path,
             details={"name": name, "fingerprint": row.fingerprint, "generated": private_key is not None})
    return row, private_key


def get_keypair(uc: UseCase, name_or_id: str) -> Keypair:
    return _load(uc, _authorize(uc, "keypair.read"), name_or_id)


def list_keypairs(uc: UseCase, limit: int, cursor: str | None, name: str | None = None) -> tuple[
    list[Keypair], str | None
]:
    stmt = select(Keypair).where(Keypair.user_id == _authorize(uc, "keypair.read"))
    if name:
        stmt = stmt.where(Keypair.name == name)
    return paginate(uc.session, stmt, Keypair.id, limit, cursor)


def delete_keypair(uc: UseCase, name_or_id: str) -> None:
    key = _load(uc, _authorize(uc, "keypair.delete"), name_or_id)
    principal = uc.require_principal()
    uc.session.delete(key)
    uc.audit("keypair.delete", "keypair", key.id, principal.org_id, principal.org_path,
             details={"name": key.name, "fingerprint": key.fingerprint})


def keys_for(uc: UseCase, key_name: str) -> list[str]:
    """The authorized_keys lines to inject for the caller's keypair ``key_name`` (404 if not theirs)."""
    principal = uc.require_principal()
    return [_load(uc, principal.user_id, key_name).public_key]


def keypair_out(key: Keypair) -> dict[str, Any]:
    parsed = parse_public_key(key.public_key)
    return {
        "id": key.id, "name": key.name, "user_id": key.user_id, "type": key.type,
        "key_type": parsed.key_type, "public_key": key.public_key, "fingerprint": key.fingerprint,
        "fingerprint_md5": parsed.fingerprint_md5, "created_at": key.created_at,
    }
