"""Signing in: a password, then a TOTP code when the account has one or every account must.

Every failure is audited with its reason (never the password or code typed). An unknown email
is checked against a dummy hash and refused in the same words as a wrong password, so the page
tells a stranger nothing about who has an account.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from coach.admin.accounts import OBJECT, find_account
from coach.admin.audit import audit
from coach.admin.models import AdminAccount
from coach.admin.passwords import check_password
from coach.admin.second_factor import accepted_step
from coach.admin.switches import require_totp


@dataclass(frozen=True)
class PasswordCheck:
    account: AdminAccount | None  # the account named, when there is one
    ok: bool


def check_password_login(session: Session, email: str, password: str, now: datetime
                         ) -> PasswordCheck:
    account = find_account(session, email)
    usable = account is not None and not account.disabled and account.password_hash is not None
    ok, new_hash = check_password(account.password_hash if usable and account else None,
                                  password)
    if ok and account is not None:
        if new_hash:
            account.password_hash = new_hash
        return PasswordCheck(account, True)
    audit(session, account, "login.failed", OBJECT, account.id if account else None,
          _why(account), at=now)
    return PasswordCheck(account, False)


def _why(account: AdminAccount | None) -> str:
    if account is None:
        return "unknown account"  # what was typed stays out: it may be a password
    if account.disabled:
        return "account disabled"
    return "no password set yet" if account.password_hash is None else "wrong password"


def needs_code(session: Session, account: AdminAccount) -> bool:
    return account.totp_secret is not None or require_totp(session)


def check_code(session: Session, account: AdminAccount, secret: str, code: str,
               now: datetime) -> bool:
    """Whether the code is good for the secret; a good code's step is used up."""
    step = accepted_step(secret, code, now, account.totp_last_step)
    if step is None:
        audit(session, account, "login.failed", OBJECT, account.id, "wrong or used code",
              at=now)
        return False
    account.totp_last_step = step
    return True


def signed_in(session: Session, account: AdminAccount, now: datetime) -> None:
    account.last_login_at = now
    audit(session, account, "login", OBJECT, account.id, at=now)
