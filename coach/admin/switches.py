"""Admin-wide settings changed while coach runs, kept in the database (``admin_switches``).

``require-totp`` lives here rather than in an environment variable so that turning it on
(``coach admin require-totp on`` or the accounts page) takes effect at the next sign-in of
every web process at once, with no restart, and is itself audited.
"""

from datetime import datetime

from sqlalchemy.orm import Session

from coach.admin.models import AdminSwitch

REQUIRE_TOTP = "require-totp"


def require_totp(session: Session) -> bool:
    switch = session.get(AdminSwitch, REQUIRE_TOTP)
    return switch is not None and switch.value == "on"


def set_require_totp(session: Session, on: bool, now: datetime) -> bool:
    """Set it; returns whether it changed."""
    value = "on" if on else "off"
    switch = session.get(AdminSwitch, REQUIRE_TOTP)
    if switch is None:
        session.add(AdminSwitch(name=REQUIRE_TOTP, value=value, changed_at=now))
        return on
    if switch.value == value:
        return False
    switch.value, switch.changed_at = value, now
    return True
