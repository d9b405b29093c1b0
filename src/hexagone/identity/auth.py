"""Authentication: password login (+ TOTP), bearer tokens, API keys, and building the principal."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import or_, select

from hexagone.authz.policy import ROLES, Grant, Principal, Target, missing_to_confer, visible_scopes
from hexagone.db.models import ApiKey, Organisation, Project, Token, User
from hexagone.db.pagination import paginate
from hexagone.errors import (
    Conflict,
    Forbidden,
    HexagoneError,
    InvalidInput,
    MfaRequired,
    NotFound,
    Unauthenticated,
)
from hexagone.identity import totp
from hexagone.identity.credentials import new_api_key, new_token
from hexagone.identity.orgs import _path_filter
from hexagone.identity.users import (
    _scope,
    check_password,
    grants_of,
    require_dominates,
    revoke_all_tokens,
    scope_noun,
)
from hexagone.ids import is_id, new_id
from hexagone.usecase import UseCase

log = logging.getLogger("hexagone.auth")
BAD_LOGIN = "The login name or the password is wrong, or the account is locked."


@dataclass
class LoginResult:
    token: str | None = None
    token_row: Token | None = None
    user: User | None = None
    error: HexagoneError | None = None
    warnings: list[str] = field(default_factory=list)


def root_path(uc: UseCase) -> str:
    """The operator organisation's path; it never changes, so it is cached for the process."""
    cached = uc.extras.get("root_path")
    if cached:
        return str(cached)
    path = uc.session.execute(select(Organisation.path).where(Organisation.parent_id.is_(None))).scalar_one()
    uc.extras["root_path"] = path
    shared = uc.extras.get("shared")
    if isinstance(shared, dict):
        shared["root_path"] = path
    return str(path)


def precheck_password(db: object, hasher: object, name: str, password: str) -> tuple[str | None, bool]:
    """Verify a password from a read transaction, before the login's write transaction begins, so
    the slow argon2id computation never holds a write lock. Returns (hash verified, result)."""
    with db.read() as s:  # type: ignore[attr-defined]
        stored = s.execute(select(User.password_hash).where(User.name == name)).scalar_one_or_none()
    return stored, bool(hasher.verify_password(stored, password))  # type: ignore[attr-defined]


def _grants(uc: UseCase, user_id: str) -> tuple[Grant, ...]:
    return grants_of(uc, user_id)


def is_operator_admin(uc: UseCase, grants: tuple[Grant, ...]) -> bool:
    root = root_path(uc)
    return any(g.scope_type == "org" and g.scope_path == root and g.role in ("admin", "owner") for g in grants)


def mfa_mandatory(uc: UseCase, user: User, grants: tuple[Grant, ...]) -> tuple[bool, str]:
    """(mandatory, why). Organisations may require it; operator administrators always need it,
    except in the one-machine region, which only warns."""
    org = uc.session.get(Organisation, user.org_id)
    if org is not None and org.mfa_required:
        return True, "your organisation requires a second factor"
    if is_operator_admin(uc, grants) and not uc.settings.single_machine:
        return True, "operator administrators must use a second factor"
    return False, ""


def login(
    uc: UseCase,
    name: str,
    password: str,
    totp_code: str | None,
    recovery_code: str | None,
    project_id: str | None = None,
    precheck: tuple[str | None, bool] | None = None,
) -> LoginResult:
    """Never raises for bad credentials: the failure is returned so its audit record commits.
    Unknown user and wrong password cost one argon2id verification each and answer the same."""
    # The row lock serialises concurrent attempts on one account: the failure counter never loses a count.
    user = uc.session.execute(select(User).where(User.name == name).with_for_update()).scalar_one_or_none()
    stored = user.password_hash if user else None
    if precheck is not None and precheck[0] == stored:
        password_ok = precheck[1]  # verified moments ago against this very hash
    else:
        password_ok = uc.hasher.verify_password(stored, password)
    base_details = {"login": name[:100]}
    if user is None and uc.admission is not None:
        unknown_name_failure(uc, name)
        return LoginResult(error=Unauthenticated(BAD_LOGIN))
    if user is None or not user.enabled:
        uc.audit(
            "auth.login",
            "user",
            user.id if user else None,
            user.org_id if user else None,
            user.org_path if user else root_path(uc),  # unknown login names: the operator's trail
            result="failure",
            details={**base_details, "reason": "unknown"},
        )
        return LoginResult(error=Unauthenticated(BAD_LOGIN))
    uc.actor.user_id, uc.actor.name, uc.actor.org_id = user.id, user.name, user.org_id
    if user.locked_until is not None and user.locked_until > uc.now:
        uc.audit(
            "auth.login",
            "user",
            user.id,
            user.org_id,
            user.org_path,
            result="failure",
            details={**base_details, "reason": "locked"},
        )
        return LoginResult(error=Unauthenticated(BAD_LOGIN))
    if not password_ok:
        return _failed(uc, user, "wrong password")
    if user.totp_enabled:
        if not totp_code and not recovery_code:
            uc.audit(
                "auth.login", "user", user.id, user.org_id, user.org_path, result="mfa_required", details=base_details
            )
            return LoginResult(error=MfaRequired("A second factor is required: send totp_code (or recovery_code)."))
        if not second_factor_ok(uc, user, totp_code, recovery_code):
            return _failed(uc, user, "wrong second factor")
    if uc.hasher.needs_rehash(user.password_hash):
        user.password_hash = uc.hasher.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    grants = _grants(uc, user.id)
    mandatory, why = mfa_mandatory(uc, user, grants)
    restricted = mandatory and not user.totp_enabled
    warnings = []
    if restricted:
        warnings.append(f"Enrol a second factor now: {why}. Until then this token can only enrol it.")
    elif is_operator_admin(uc, grants) and not user.totp_enabled:
        warnings.append("Operator administrators should use a second factor: run `hexagone user totp enrol`.")
    raw, row = issue_token(uc, user, mfa=user.totp_enabled, restricted=restricted, project_id=project_id)
    uc.audit(
        "auth.login",
        "user",
        user.id,
        user.org_id,
        user.org_path,
        details={**base_details, "mfa": user.totp_enabled, "token_id": row.id},
    )
    return LoginResult(token=raw, token_row=row, user=user, warnings=warnings)


def unknown_name_failure(uc: UseCase, name: str) -> None:
    """Audit a login for an unknown name, aggregated: the first one of a source in a window is
    recorded, the next ones only counted, and the count recorded once the window is over (with a
    later failure), so an anonymous client cannot grow the trail without bound."""
    assert uc.admission is not None
    tally = uc.admission.unknown_logins
    record_this, closed = tally.note(uc.actor.source_ip, uc.now.timestamp())
    root = root_path(uc)
    for summary in closed:
        since = dt.datetime.fromtimestamp(summary.since, dt.UTC).isoformat()
        until = dt.datetime.fromtimestamp(summary.until, dt.UTC).isoformat()
        uc.audit("auth.login", "user", None, None, root, result="failure",
                 details={"reason": "unknown", "aggregated": True, "source": summary.source,
                          "count": summary.count, "since": since, "until": until})
    if record_this:
        uc.audit("auth.login", "user", None, None, root, result="failure",
                 details={"login": name[:100], "reason": "unknown",
                          "note": f"further unknown names from this source within {tally.window:g} s "
                                  "are counted in one later record"})


def _failed(uc: UseCase, user: User, reason: str) -> LoginResult:
    record_failure(uc, user, reason)
    return LoginResult(error=Unauthenticated(BAD_LOGIN))


def record_failure(uc: UseCase, user: User, reason: str, via: str | None = None) -> None:
    """Count one failed attempt toward the lockout (and lock the account at the limit), audited.
    Every way of guessing a credential calls this: native login, Keystone passwords and receipts."""
    user.failed_logins += 1
    details: dict[str, object] = {"login": user.name, "reason": reason, "failures": user.failed_logins}
    if via:
        details["via"] = via
    if user.failed_logins >= uc.settings.login_max_failures:
        user.locked_until = uc.now + dt.timedelta(seconds=uc.settings.login_lockout_seconds)
        user.failed_logins = 0
        details["locked_until"] = user.locked_until.isoformat()
    uc.audit("auth.login", "user", user.id, user.org_id, user.org_path, result="failure", details=details)


def second_factor_ok(uc: UseCase, user: User, code: str | None, recovery: str | None) -> bool:
    if code and user.totp_secret:
        step = totp.verify(user.totp_secret, code, uc.now.timestamp(), user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            return True
    if recovery:
        digest = uc.hasher.keyed(recovery.strip().lower())
        if digest in (user.recovery_codes or []):
            user.recovery_codes = [c for c in user.recovery_codes if c != digest]
            return True
    return False


def issue_token(
    uc: UseCase, user: User, *, mfa: bool, restricted: bool, project_id: str | None = None
) -> tuple[str, Token]:
    raw = new_token()
    row = Token(
        id=new_id(),
        token_hash=uc.hasher.keyed(raw),
        user_id=user.id,
        project_id=project_id,
        mfa=mfa,
        restricted=restricted,
        issued_at=uc.now,
        expires_at=uc.now + dt.timedelta(seconds=uc.settings.token_ttl_seconds),
        source=uc.actor.source_ip[:64],
    )
    uc.session.add(row)
    uc.session.flush()
    return raw, row


def principal_for_user(uc: UseCase, user: User, *, restricted: bool, api_key: ApiKey | None = None) -> Principal:
    grants = (key_grant(api_key),) if api_key is not None else _grants(uc, user.id)
    return Principal(
        user_id=user.id,
        org_id=user.org_id,
        org_path=user.org_path,
        grants=grants,
        root_path=root_path(uc),
        restricted=restricted,
        api_key_id=api_key.id if api_key else None,
        name=user.name,
    )


def authenticate(uc: UseCase, credential: str) -> tuple[Principal, Token | None]:
    """Resolve a bearer token or an API key into a principal, or raise Unauthenticated."""
    invalid = Unauthenticated("The token or API key is invalid, expired or revoked: log in again.")
    if credential.startswith("hxk_"):
        row = uc.session.execute(
            select(ApiKey, User, Organisation)
            .join(User, User.id == ApiKey.user_id)
            .join(Organisation, Organisation.id == User.org_id)
            .where(ApiKey.key_hash == uc.hasher.keyed(credential))
        ).first()
        if row is None:
            raise invalid
        key, user, _ = row
        if key.revoked_at is not None or (key.expires_at and key.expires_at <= uc.now) or not user.enabled:
            raise invalid
        grants = _grants(uc, user.id)
        creator = Principal(
            user_id=user.id, org_id=user.org_id, org_path=user.org_path, grants=grants, root_path=root_path(uc)
        )
        if missing_to_confer(creator, key_grant(key)):
            raise invalid  # the creator no longer holds every permission the key carries: refused whole
        if not user.totp_enabled and mfa_mandatory(uc, user, grants)[0]:
            raise invalid  # a second factor is now mandatory and the creator has none
        uc.extras["user"] = user
        return principal_for_user(uc, user, restricted=False, api_key=key), None
    found = uc.session.execute(
        select(Token, User, Organisation)
        .join(User, User.id == Token.user_id)
        .join(Organisation, Organisation.id == User.org_id)
        .where(Token.token_hash == uc.hasher.keyed(credential))
    ).first()
    if found is None:
        raise invalid
    token, user, org = found
    if token.revoked_at is not None or token.expires_at <= uc.now or not user.enabled:
        raise invalid
    restricted = token.restricted
    if not restricted and not token.mfa and org.mfa_required:
        restricted = True  # issued before the organisation required a second factor (normally revoked then)
    uc.extras["user"] = user
    return principal_for_user(uc, user, restricted=restricted), token


def key_grant(key: ApiKey) -> Grant:
    """The one grant an API key carries: its role on its scope."""
    return Grant(key.role, key.scope_type, key.scope_id, key.scope_path)


def logout(uc: UseCase, token: Token | None) -> None:
    if token is None:
        raise InvalidInput("Log out with the bearer token itself; API keys are revoked with DELETE /v1/api-keys/{id}.")
    row = uc.session.get(Token, token.id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = uc.now
    principal = uc.require_principal()
    uc.audit("auth.logout", "token", token.id, principal.org_id, principal.org_path)


# --- TOTP enrolment ------------------------------------------------------------------------------------


def _me(uc: UseCase) -> User:
    """The user changing its own credentials: with a password-based token, never an API key."""
    principal = uc.require_principal()
    if principal.api_key_id:
        raise Forbidden("API keys cannot change passwords or second factors; log in with a password.")
    user = uc.session.get(User, principal.user_id)
    if user is None:
        raise Unauthenticated("Your user no longer exists.")
    return user


def totp_begin(uc: UseCase) -> tuple[str, str]:
    user = _me(uc)
    if user.totp_enabled:
        raise Conflict("A second factor is already enrolled; disable it first to enrol a new one.")
    secret = totp.new_secret()
    user.totp_secret = secret
    uc.audit("auth.totp.begin", "user", user.id, user.org_id, user.org_path)
    return secret, totp.provisioning_uri(secret, user.name)


def totp_confirm(uc: UseCase, code: str) -> list[str]:
    user = _me(uc)
    if user.totp_enabled or not user.totp_secret:
        raise Conflict("Start enrolment first (POST /v1/auth/totp).")
    step = totp.verify(user.totp_secret, code, uc.now.timestamp(), user.totp_last_step)
    if step is None:
        raise InvalidInput("The code does not match: check your authenticator's clock and try the next code.")
    codes = totp.new_recovery_codes()
    user.totp_enabled = True
    user.totp_last_step = step
    user.recovery_codes = [uc.hasher.keyed(c) for c in codes]
    uc.audit("auth.totp.enable", "user", user.id, user.org_id, user.org_path)
    return codes


def totp_disable(uc: UseCase, code: str) -> None:
    user = _me(uc)
    if not user.totp_enabled or not second_factor_ok(uc, user, code, code):
        raise InvalidInput("Send a current TOTP code or a recovery code to disable the second factor.")
    mandatory, why = mfa_mandatory(uc, user, _grants(uc, user.id))
    if mandatory:
        raise Forbidden(f"The second factor cannot be disabled: {why}.")
    user.totp_enabled = False
    user.totp_secret = None
    user.recovery_codes = []
    uc.audit("auth.totp.disable", "user", user.id, user.org_id, user.org_path)


def change_password(uc: UseCase, current: str, new: str) -> None:
    user = _me(uc)
    if not uc.hasher.verify_password(user.password_hash, current):
        raise InvalidInput("The current password is wrong.")
    check_password(uc, new, user.name)
    user.password_hash = uc.hasher.hash_password(new)
    user.password_changed_at = uc.now
    revoke_all_tokens(uc, user)
    uc.audit("auth.password.change", "user", user.id, user.org_id, user.org_path)


# --- API keys --------------------------------------------------------------------------------------------


def create_api_key(
    uc: UseCase, name: str, scope_type: str, scope_id: str, role: str, expires_at: dt.datetime | None
) -> tuple[ApiKey, str]:
    target, scope_path, _ = _scope(uc, scope_type, scope_id)
    uc.authorize(target, "apikey.create", what=scope_noun(scope_type))
    principal = uc.require_principal()
    if principal.api_key_id:
        raise Forbidden("API keys cannot create API keys; log in with a password.")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}.")
    missing = missing_to_confer(principal, Grant(role, scope_type, scope_id, scope_path))
    if missing:
        raise Forbidden(
            f"A key can only carry permissions you hold on this scope; '{role}' also holds "
            f"{', '.join(sorted(missing))}. Choose a role within your own."
        )
    if expires_at is not None and expires_at <= uc.now:
        raise InvalidInput("expires_at must be in the future.")
    prefix, secret = new_api_key()
    key = ApiKey(
        id=new_id(),
        key_hash=uc.hasher.keyed(secret),
        prefix=prefix,
        name=name,
        user_id=principal.user_id,
        org_id=principal.org_id,
        org_path=principal.org_path,
        role=role,
        scope_type=scope_type,
        scope_id=scope_id,
        scope_path=scope_path,
        created_at=uc.now,
        expires_at=expires_at,
    )
    uc.session.add(key)
    uc.session.flush()
    uc.audit(
        "apikey.create",
        "api_key",
        key.id,
        principal.org_id,
        scope_path,
        details={"name": name, "role": role, "scope_type": scope_type, "scope_id": scope_id},
    )
    return key, secret


def list_api_keys(uc: UseCase, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
    principal = uc.require_principal()
    paths, _ = visible_scopes(principal, "user.update")  # administrators see their subtree's keys
    stmt = select(ApiKey).where(or_(ApiKey.user_id == principal.user_id, _path_filter(ApiKey.org_path, paths)))
    return paginate(uc.session, stmt, ApiKey.id, limit, cursor)


def revoke_api_key(uc: UseCase, key_id: str) -> None:
    key = uc.session.get(ApiKey, key_id) if is_id(key_id) else None
    principal = uc.require_principal()
    if key is None:
        raise NotFound("The API key does not exist, or you cannot see it.")
    if key.user_id != principal.user_id:
        uc.authorize(Target(org_path=key.org_path), "user.update", what="API key")
        creator = uc.session.get(User, key.user_id)
        if creator is not None:
            require_dominates(uc, creator, "revoke the API keys of")
    else:
        uc.authorize(Target(org_path=key.scope_path, owner_user_id=key.user_id), "self.update", what="API key")
    if key.revoked_at is None:
        key.revoked_at = uc.now
    uc.audit("apikey.revoke", "api_key", key.id, key.org_id, key.org_path, details={"name": key.name})


def scope_names(uc: UseCase, grants: tuple[Grant, ...]) -> dict[str, str]:
    """Scope id -> name for the caller's own grants (``whoami`` shows "member on project web")."""
    orgs = [g.scope_id for g in grants if g.scope_type == "org"]
    projects = [g.scope_id for g in grants if g.scope_type == "project"]
    names: dict[str, str] = {}
    if orgs:
        rows = uc.session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(orgs)))
        names.update((str(i), str(n)) for i, n in rows)
    if projects:
        rows = uc.session.execute(select(Project.id, Project.name).where(Project.id.in_(projects)))
        names.update((str(i), str(n)) for i, n in rows)
    return names
