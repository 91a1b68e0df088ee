"""How many failed sign-ins (passwords and codes) one account, and one client address, may
have before the login page asks them to wait, and says for how long.

Counted with the ``limits`` library like coach/web/throttle.py: in Redis when the deployment
has it (so every web process shares the count), else in memory. Only failures count, so an
admin who types well is never held up. The account is counted by a keyed hash of the email
typed, so the count's store holds no addresses. When the store cannot be reached the attempt
is allowed: the argon2 hash still makes guessing slow.
"""

import hashlib
import hmac
import logging
import math
import time

from limits import RateLimitItem, parse
from limits.strategies import MovingWindowRateLimiter

from coach.settings import Settings
from coach.web.throttle import storage_for

log = logging.getLogger(__name__)
FAMILY = "admin-login"


class LoginLimits:
    def __init__(self, settings: Settings) -> None:
        self.limiter = MovingWindowRateLimiter(storage_for(settings))
        self.secret = settings.secret_key.encode()
        self.rates: tuple[RateLimitItem, RateLimitItem] = (
            parse(settings.admin_login_rate_per_account),
            parse(settings.admin_login_rate_per_client))

    def wait(self, email: str, client: str) -> int:
        """Seconds until this account and client may try again; 0 when they may now."""
        try:
            waits = [self._wait(rate, key) for rate, key in self._keys(email, client)]
        except Exception as error:  # the count's store is down
            log.warning("admin sign-in limit not checked (%s)", type(error).__name__)
            return 0
        return max(waits)

    def failed(self, email: str, client: str) -> None:
        try:
            for rate, key in self._keys(email, client):
                self.limiter.hit(rate, FAMILY, key)
        except Exception as error:
            log.warning("admin sign-in failure not counted (%s)", type(error).__name__)

    def _wait(self, rate: RateLimitItem, key: str) -> int:
        if self.limiter.test(rate, FAMILY, key):
            return 0
        reset = self.limiter.get_window_stats(rate, FAMILY, key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def _keys(self, email: str, client: str) -> list[tuple[RateLimitItem, str]]:
        account = hmac.new(self.secret, b"admin-login:" + email.strip().casefold().encode(),
                           hashlib.sha256).hexdigest()[:32]
        return [(self.rates[0], f"account:{account}"), (self.rates[1], f"client:{client}")]


def wait_message(seconds: int) -> str:
    """When to try again, in words: 'Too many … Try again in 12 minutes.'"""
    if seconds < 90:
        when = f"{seconds} second{'s' * (seconds != 1)}"
    else:
        minutes = math.ceil(seconds / 60)
        when = f"{minutes} minutes"
    return (f"Too many failed sign-ins for this account or from your address. Try again in "
            f"{when}.")
