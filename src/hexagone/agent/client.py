"""HTTP client of the agent API (/v1/agent)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx

from hexagone.errors import PermanentError, TemporaryError, Unauthenticated


def _detail(r: httpx.Response) -> str:
    try:
        return str(r.json().get("detail", ""))[:300]
    except ValueError:
        return ""


class AgentClient:
    def __init__(self, url: str, credential: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.credential = credential
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"} if self.credential else {}

    def _call(self, method: str, path: str, timeout: float | None = None, **kw: Any) -> Any:
        try:
            r = self._http.request(method, path, headers=self._headers(), timeout=timeout or self._http.timeout, **kw)
        except httpx.HTTPError as exc:
            raise TemporaryError(
                f"The control plane at {self.url} is unreachable ({exc}); retrying.", delay=2.0
            ) from exc
        if r.status_code == 401:
            raise Unauthenticated(r.json().get("detail", "The control plane refused the agent's credential."))
        if r.status_code >= 500:
            detail = _detail(r)
            delay = float(r.headers["Retry-After"]) if r.headers.get("Retry-After", "").isdigit() else 2.0
            raise TemporaryError(f"The control plane answered {r.status_code}{f' ({detail})' if detail else ''}; "
                                 f"retrying in {delay:g} s.", delay=min(delay, 30.0))
        if r.status_code >= 400:
            raise PermanentError(f"The control plane refused {method} {path}: {r.text[:300]}")
        return r.json() if r.content else None

    def join(self, join_token: str, name: str, inventory: dict[str, Any]) -> dict[str, Any]:
        return dict(
            self._call("POST", "/v1/agent/join", json={"join_token": join_token, "name": name, "inventory": inventory})
        )

    def heartbeat(self, inventory: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/agent/heartbeat", json=inventory))

    def desired(self, revision: int, wait: float) -> dict[str, Any]:
        return dict(
            self._call("GET", "/v1/agent/desired", params={"revision": revision, "wait": wait}, timeout=wait + 30)
        )

    def report(
        self, boot_id: str, seq: int, revision: int, observations: list[dict[str, Any]], unmanaged: list[str]
    ) -> dict[str, Any]:
        body = {"boot_id": boot_id, "seq": seq, "revision": revision, "observations": observations,
                "unmanaged": unmanaged}
        return dict(self._call("POST", "/v1/agent/report", json=body))

    def download(self, url: str, dest: Path, sha256: str | None = None) -> Path:
        """Stream a file to ``dest`` atomically, checking its sha256 when given."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".part")
        digest = hashlib.sha256()
        try:
            with self._http.stream("GET", url, headers=self._headers(), timeout=600) as r:
                if r.status_code != 200:
                    raise TemporaryError(f"Image download failed with {r.status_code}.", delay=5.0)
                with open(tmp, "wb") as f:
                    for chunk in r.iter_bytes(1 << 20):
                        digest.update(chunk)
                        f.write(chunk)
        except httpx.HTTPError as exc:
            tmp.unlink(missing_ok=True)
            raise TemporaryError(f"Image download interrupted ({exc}).", delay=5.0) from exc
        if sha256 and digest.hexdigest() != sha256:
            tmp.unlink(missing_ok=True)
            raise PermanentError("The downloaded image does not match its checksum; the image is corrupt.")
        os.replace(tmp, dest)
        return dest
