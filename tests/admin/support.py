"""Helpers for the admin tests: accounts made directly, signing in as a browser would."""

import html
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.admin.models import AdminAccount, AuditEntry
from coach.admin.passwords import hash_password
from coach.admin.second_factor import new_secret
from tests.web.support import Clock

PASSWORD = "correct horse battery staple"


@dataclass
class Accounts:
    factory: sessionmaker[Session]
    clock: Clock

    def add(self, email: str, role: str, password: str | None = PASSWORD,
            totp: bool = False, disabled: bool = False) -> AdminAccount:
        with self.factory.begin() as session:
            account = AdminAccount(
                email=email, role=role, created_at=self.clock(),
                password_hash=hash_password(password) if password else None,
                totp_secret=new_secret() if totp else None,
                disabled_at=self.clock() if disabled else None)
            session.add(account)
        return account

    def get(self, email: str) -> AdminAccount:
        with self.factory() as session:
            return session.scalars(select(AdminAccount).where(AdminAccount.email == email)).one()

    def audit(self) -> list[AuditEntry]:
        """Every audit entry, oldest first."""
        with self.factory() as session:
            return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))

    def actions(self) -> list[tuple[str, int | None, str]]:
        return [(e.action, e.account_id, e.detail) for e in self.audit()]


def token_of(client: TestClient, path: str = "/admin/login") -> str:
    """The CSRF token of a page's form (its cookie stays in the client)."""
    page = client.get(path).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"{path} shows no form"
    return found.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD, next_path: str = "",
          **headers: str) -> Any:
    return client.post("/admin/login", headers=headers, data={
        "csrf_token": token_of(client), "email": email, "password": password,
        "next": next_path})


def post(client: TestClient, path: str, data: dict[str, str] | None = None,
         form_page: str = "/admin/login") -> Any:
    return client.post(path, data={"csrf_token": token_of(client, form_page), **(data or {})})


def alert(page: str) -> str | None:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)).strip() if found else None


def signed_in_as(client: TestClient) -> str | None:
    """Whose email the admin home shows, or None when it sends the client to sign in."""
    response = client.get("/admin")
    if response.status_code != 200:
        return None
    found = re.search(r"You are signed in as (\S+), with", response.text)
    return found.group(1) if found else None
