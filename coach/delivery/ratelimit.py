"""A send rate per sender, shared by every worker process on every machine through Redis.

The limiter is GCRA (the generic cell rate algorithm) run as one Lua script, so each call is
atomic in Redis: the script books the sender's next free slot, at least ``1 / rate`` seconds
after the one before, and the caller sleeps until it. Time comes from Redis (``TIME``), so
clocks that differ between machines do not matter. There is no burst: an idle sender sends at
once, and after that no two sends are closer than the interval, whoever makes them.

A slot further away than ``max_wait`` is not booked: the caller is told how long the queue
is (:class:`SenderBusy`) and can put the message back instead of holding it for minutes.
"""

import time
from dataclasses import dataclass, field

import redis
from redis.commands.core import Script

from coach.settings import Settings

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

# KEYS[1]: the sender's key. ARGV[1]: interval between sends, ARGV[2]: longest wait to book,
# both in microseconds. Returns the wait before the booked slot, or minus the wait when the
# slot is too far away (and books nothing).
GCRA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or 0), now)
local wait = slot - now
if wait > max_wait then
  return -wait
end
local ttl_ms = math.ceil((wait + interval) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', ttl_ms)
return wait
"""


class SenderBusy(Exception):
    """The sender's next free slot is further away than the caller will wait."""

    def __init__(self, wait_seconds: float):
        super().__init__(f"the sender's rate is booked for the next {wait_seconds:.0f} s")
        self.wait_seconds = wait_seconds


def redis_url_for(settings: Settings) -> str | None:
    """The rate limit's Redis: its own setting, else the broker when that is Redis."""
    if settings.rate_limit_redis_url:
        return settings.rate_limit_redis_url
    broker = settings.effective_broker_url
    return broker if broker.startswith(REDIS_SCHEMES) else None


@dataclass
class RateLimiter:
    """At most ``per_second`` sends for one ``sender``, counted across all processes."""

    redis_url: str
    sender: str
    per_second: float
    max_wait: float = 60.0
    key_prefix: str = ""  # COACH_REDIS_KEY_PREFIX
    _redis: redis.Redis = field(init=False, repr=False)
    _script: Script = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=5,
                                           socket_timeout=5)
        self._script = self._redis.register_script(GCRA)

    @property
    def key(self) -> str:
        return f"{self.key_prefix}coach:send-rate:{self.sender}"

    def acquire(self) -> float:
        """Wait until this process may send; returns the seconds waited.

        Raises :class:`SenderBusy` when the wait would exceed ``max_wait`` (nothing is booked),
        and ``redis.RedisError`` when Redis cannot be reached.
        """
        interval, max_wait = round(1_000_000 / self.per_second), round(self.max_wait * 1e6)
        wait = int(self._script(keys=[self.key], args=[interval, max_wait])) / 1e6
        if wait < 0:
            raise SenderBusy(-wait)
        if wait:
            time.sleep(wait)
        return wait

    def close(self) -> None:
        self._redis.close()
