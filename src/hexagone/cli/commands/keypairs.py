"""``hexagone keypair``: SSH keys installed into new servers.

A generated private key is written, mode 0600, to ``--private-key-out`` or
``~/.ssh/hexagone-<name>``; the API stores no copy. It is printed only with ``--output json``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from hexagone.cli.options import All, Cursor, Limit, Output, show_list
from hexagone.cli.output import GENERIC, USAGE, CliError, note, print_record, say
from hexagone.cli.session import client, output_format

app = typer.Typer(no_args_is_help=True, help="Keypairs: SSH public keys for your servers.")

COLUMNS = ("name", "key_type", "fingerprint", "created_at")
KeyName = Annotated[str, typer.Argument(help="Keypair name.")]


def default_key_path(name: str) -> Path:
    return Path.home() / ".ssh" / f"hexagone-{name}"


def write_private_key(path: Path, text: str) -> None:
    """Create ``path`` mode 0600 (never overwriting), its directory 0700 when it is created."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text if text.endswith("\n") else text + "\n")


@app.command()
def create(
    name: KeyName,
    public_key_file: Annotated[
        Path | None,
        typer.Option("--public-key-file", help="Import this public key (e.g. ~/.ssh/id_ed25519.pub)."),
    ] = None,
    private_key_out: Annotated[
        Path | None,
        typer.Option(
            "--private-key-out", help="Where to write a generated key (default ~/.ssh/hexagone-NAME)."
        ),
    ] = None,
    output: Output = None,
) -> None:
    """Import a public key, or generate an ed25519 keypair and save its private key (mode 0600)."""
    fmt = output_format(output)
    body: dict[str, Any] = {"name": name}
    target: Path | None = None
    if public_key_file is not None:
        if private_key_out is not None:
            raise CliError("--private-key-out is only for generated keys: drop --public-key-file.", USAGE)
        try:
            body["public_key"] = public_key_file.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(
                f"Cannot read {public_key_file} ({exc}): give an OpenSSH public key file.", USAGE
            ) from exc
    else:
        target = (private_key_out or default_key_path(name)).expanduser()
        if target.exists():
            raise CliError(
                f"{target} already exists: give another --private-key-out, or remove that file first.", USAGE
            )
    key = client().post("/v1/keypairs", body)
    private = key.get("private_key")
    if target is not None and private:
        try:
            write_private_key(target, private)
        except OSError as exc:
            raise CliError(
                f"The keypair '{name}' was created, but its private key could not be written to {target} "
                f"({exc.strerror}): delete it with `hexagone keypair delete {name}` and create it again.",
                GENERIC,
            ) from exc
    if fmt == "json":
        print_record(key, fmt)
        return
    say(f"Created keypair '{key['name']}' ({key['fingerprint']}).", fmt)
    print_record({k: v for k, v in key.items() if k != "private_key"}, fmt)
    if target is not None and private:
        note(f"Private key written to {target} (mode 0600); the cloud keeps no copy.")


@app.command("list")
def list_(limit: Limit = 100, cursor: Cursor = None, all_: All = False, output: Output = None) -> None:
    """Your keypairs."""
    show_list(
        client(),
        "/v1/keypairs",
        {},
        COLUMNS,
        limit=limit,
        cursor=cursor,
        follow=all_,
        output=output,
        empty="No keypair: create one with `hexagone keypair create NAME`.",
    )


@app.command()
def show(name: KeyName, output: Output = None) -> None:
    """One keypair with its public key and fingerprints."""
    print_record(client().get(f"/v1/keypairs/{name}"), output_format(output))


@app.command()
def delete(name: KeyName, output: Output = None) -> None:
    """Delete a keypair (servers created with it keep the key)."""
    client().delete(f"/v1/keypairs/{name}")
    say(f"Deleted keypair {name}.", output_format(output))
