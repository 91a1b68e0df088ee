"""Access logs without the secrets in URLs.

Links in coach's messages carry signed tokens in their path (``/unsubscribe/<token>``); an
access log that keeps them would let anyone who reads the log act as the person. The filter
keeps the path's shape and drops the token.
"""

import logging

from coach.subscribers.links import hide_tokens

ACCESS_LOGGERS = ("uvicorn.access",)


class HideTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(hide_tokens(a) if isinstance(a, str) else a for a in record.args)
        record.msg = hide_tokens(record.msg) if isinstance(record.msg, str) else record.msg
        return True


def hide_tokens_in_access_logs() -> None:
    """Call once logging is configured (uvicorn configures it before it imports the app)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideTokens) for f in logger.filters):
            logger.addFilter(HideTokens())
