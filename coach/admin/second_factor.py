"""TOTP codes (RFC 6238) from an authenticator app, with pyotp.

A code is accepted in its own 30-second step or one step either side (clocks drift), and each
step works once: an account keeps the last step it used, so a code seen over a shoulder or
replayed from a log cannot sign in again.
"""

import hmac
import re
from datetime import datetime

import pyotp

ISSUER = "coach"
CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    return pyotp.random_base32()


def setup_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads (shown as text; a QR is optional)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def accepted_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step the code belongs to, or None when it is wrong, stale or used already."""
    code = re.sub(r"[\s-]", "", code)
    if not CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_at(secret: str, now: datetime) -> str:
    """The code an authenticator app shows at ``now`` (for tests and the CLI's own checks)."""
    return pyotp.TOTP(secret).at(now)
