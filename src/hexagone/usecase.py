"""The context of one use case: its transaction, "now", who acts, and the policy check.

Route handlers build one ``UseCase`` per request (``hexagone.api.deps``); services take it as their
first argument, never commit (the request's transaction does), and call ``authorize`` once they
know which tenant the request touches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from hexagone.admission.control import Admission
from hexagone.audit import service as audit
from hexagone.authz.policy import Decision, Principal, Target, decide
from hexagone.errors import Forbidden, NotFound, Unauthenticated
from hexagone.identity.credentials import Hasher
from hexagone.settings import Settings


@dataclass
class UseCase:
    session: Session
    now: dt.datetime
    settings: Settings
    hasher: Hasher
    actor: audit.Actor
    principal: Principal | None = None
    permission: str = ""
    admission: Admission | None = None  # the process's rate limits and tallies (None: outside a server)
    extras: dict[str, Any] = field(default_factory=dict)

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise Unauthenticated("Authentication is required: log in or send an API key.")
        return self.principal

    def authorize(self, target: Target, permission: str | None = None, *, what: str = "resource") -> None:
        """Raise NotFound (404) when the principal may not even see the target, Forbidden (403) when
        it sees it but may not do this. Another tenant's resource looks exactly like a missing one."""
        principal = self.require_principal()
        perm = permission or self.permission
        decision = decide(principal, perm, target)
        if decision is Decision.HIDE:
            raise NotFound(f"The {what} does not exist, or you cannot see it.")
        if decision is Decision.DENY:
            if principal.restricted:
                raise Forbidden(
                    "Your organisation requires a second factor: enrol TOTP (POST /v1/auth/totp) first."
                )
            raise Forbidden(
                f"Your roles do not allow '{perm}' here: ask an administrator of the organisation for a "
                "role that allows it."
            )

    def authorize_operator(self, root: Target, permission: str, *, doing: str) -> None:
        """For what only the operator's staff do (hosts, regions, the price list, closing a month):
        anyone else gets 403 saying so, not a 404 as if the operator's organisation were hidden
        (every principal knows its provider exists). ``doing`` completes "Only the operator ...".
        """
        try:
            self.authorize(root, permission)
        except NotFound as exc:
            raise Forbidden(
                f"Only the operator's administrators {doing}: this is an operator command, and your "
                "account belongs to a reseller or a customer."
            ) from exc

    def audit(
        self,
        action: str,
        resource_type: str,
        resource_id: str | None,
        target_org_id: str | None,
        target_org_path: str,
        result: str = "success",
        details: dict[str, Any] | None = None,
    ) -> None:
        audit.record(
            self.session, self.now, self.actor, action, resource_type, resource_id,
            target_org_id, target_org_path, result, details, key=self.hasher.derived_key(audit.CHAIN_KEY),
        )
