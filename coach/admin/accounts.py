"""Admin accounts: add one, give it a password by a one-time link, change its role, disable it.

Each change is audited here, in its own transaction, by whoever made it (``by``: the admin
signed in to the accounts page, or None for the command line). Bad input raises AccountError
before anything changes.
"""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.admin.audit import audit
from coach.admin.models import AdminAccount
from coach.admin.passwords import hash_password, password_problem
from coach.admin.roles import ROLES
from coach.admin.sessions import end_all
from coach.settings import Settings
from coach.subscribers.addresses import BadAddress, normalize_email
from coach.subscribers.links import make_link_token, read_link_token

PASSWORD_LINK_FOR = timedelta(hours=48)
PASSWORD_PURPOSE = "admin-password"
SET_PASSWORD_PATH = "/admin/set-password/"
OBJECT = "admin_account"


class AccountError(ValueError):
    """Input that changes nothing, with what to do instead."""


def account_email(text: str) -> str:
    try:
        return normalize_email(text)
    except BadAddress:
        raise AccountError(f"{text.strip()[:320]!r} is not an email address; give the "
                           "address the person reads, like sam@example.org") from None


def role_named(text: str) -> str:
    role = text.strip().lower()
    if role not in ROLES:
        raise AccountError(f"{text.strip()[:40]!r} is not a role; use one of "
                           f"{', '.join(ROLES)}")
    return role


def find_account(session: Session, email: str) -> AdminAccount | None:
    """The account with this email, or None (also for text that is no email at all)."""
    try:
        address = account_email(email)
    except AccountError:
        return None
    return session.scalars(select(AdminAccount).where(AdminAccount.email == address)).first()


def listing(session: Session) -> list[AdminAccount]:
    return list(session.scalars(select(AdminAccount).order_by(AdminAccount.email)))


def add_account(session: Session, email: str, role: str, now: datetime,
                by: AdminAccount | None = None) -> AdminAccount:
    address, role = account_email(email), role_named(role)
    if find_account(session, address) is not None:
        raise AccountError(f"an account for {address} exists already; see coach admin list")
    account = AdminAccount(email=address, role=role, created_at=now)
    session.add(account)
    session.flush()
    audit(session, by, "account.added", OBJECT, account.id, f"role {role}", at=now)
    return account


def password_link(settings: Settings, session: Session, account: AdminAccount, now: datetime,
                  by: AdminAccount | None = None) -> str:
    """A link that sets the account's password once within 48 hours; any older link stops
    working. The link is shown to whoever asked for it, never logged."""
    made = now.replace(microsecond=0)
    account.password_link_at = made
    token = make_link_token(settings.secret_key, PASSWORD_PURPOSE, account.id, made)
    audit(session, by, "account.password-link", OBJECT, account.id, at=now)
    return f"{settings.public_url.rstrip('/')}{SET_PASSWORD_PATH}{token}"


def linked_account(session: Session, secret: str, token: str, now: datetime
                   ) -> tuple[AdminAccount | None, str]:
    """(account, "ok") for a good link; (None, why) for "missing", "used" or "expired"."""
    link = read_link_token(secret, PASSWORD_PURPOSE, token)
    account = session.get(AdminAccount, link.ident) if link else None
    if link is None or account is None or account.disabled:
        return None, "missing"
    if account.password_link_at != link.made_at:
        return None, "used"  # used already, or a newer link was made
    if link.expired(now, PASSWORD_LINK_FOR):
        return None, "expired"
    return account, "ok"


def set_password(session: Session, account: AdminAccount, password: str, now: datetime
                 ) -> None:
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    account.password_hash = hash_password(password)
    account.password_link_at = None
    end_all(session, account.id, now)
    audit(session, account, "account.password-set", OBJECT, account.id, at=now)


def change_role(session: Session, account: AdminAccount, role: str, now: datetime,
                by: AdminAccount | None = None) -> None:
    new = role_named(role)
    if by is not None and by.id == account.id:
        raise AccountError("You cannot change your own role; ask another admin.")
    if new == account.role:
        return
    old, account.role = account.role, new
    end_all(session, account.id, now)  # the next page is seen with the new role's eyes
    audit(session, by, "account.role-changed", OBJECT, account.id, f"{old} to {new}", at=now)


def disable(session: Session, account: AdminAccount, now: datetime,
            by: AdminAccount | None = None) -> None:
    if by is not None and by.id == account.id:
        raise AccountError("You cannot disable your own account; ask another admin.")
    if account.disabled:
        raise AccountError(f"{account.email} is disabled already")
    account.disabled_at, account.password_link_at = now, None
    end_all(session, account.id, now)
    audit(session, by, "account.disabled", OBJECT, account.id, at=now)


def reset_second_factor(session: Session, account: AdminAccount, now: datetime,
                        by: AdminAccount | None = None) -> None:
    """A person who lost their authenticator: their secret goes and their sessions end; they
    sign in with their password and set up a new one (the page asks at once when a second
    factor is required of everyone)."""
    if by is not None and by.id == account.id:
        raise AccountError("You cannot reset your own second factor; ask another admin.")
    if account.totp_secret is None:
        raise AccountError(f"{account.email} has no second factor to reset")
    account.totp_secret, account.totp_last_step = None, None
    end_all(session, account.id, now)
    audit(session, by, "account.totp-reset", OBJECT, account.id, at=now)
