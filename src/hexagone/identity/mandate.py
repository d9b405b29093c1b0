"""What happens when an organisation starts requiring a second factor (``mfa_required``).

Until then its users may hold tokens issued on a password alone and API keys minted by such
tokens. Turning the mandate on **revokes** both, in the same transaction as the change:

* every live token of the organisation's own users that was issued without a second factor
  (``Token.mfa`` false); tokens issued with one keep working;
* every live API key of those users: a key does not record whether the session that minted it
  had a second factor, so none can be trusted to have had one. Keys created after the change are
  minted by second-factor sessions only (a user without one holds a restricted token, which
  cannot create keys).

``identity.auth.authenticate`` enforces the same at each use, in case one slipped through: a
password-only token of a mandated user acts restricted, and an API key of a user without a second
factor is refused.
"""

from __future__ import annotations

from sqlalchemy import select, update

from hexagone.db.models import ApiKey, Organisation, Token, User
from hexagone.usecase import UseCase


def enforce_mfa_mandate(uc: UseCase, org: Organisation) -> None:
    """Revoke the password-only tokens and every API key of ``org``'s users (see the module)."""
    users = select(User.id).where(User.org_id == org.id).scalar_subquery()
    tokens = uc.session.execute(
        update(Token)
        .where(Token.user_id.in_(users), Token.revoked_at.is_(None), Token.mfa.is_(False))
        .values(revoked_at=uc.now)
        .execution_options(synchronize_session=False)
    )
    keys = uc.session.execute(
        update(ApiKey)
        .where(ApiKey.user_id.in_(users), ApiKey.revoked_at.is_(None))
        .values(revoked_at=uc.now)
        .execution_options(synchronize_session=False)
    )
    uc.audit(
        "org.mfa_mandate",
        "organisation",
        org.id,
        org.id,
        org.path,
        details={"tokens_revoked": tokens.rowcount, "api_keys_revoked": keys.rowcount},  # type: ignore[attr-defined]
    )
