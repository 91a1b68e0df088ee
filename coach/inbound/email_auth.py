"""Whether an email's From can be believed: what our own mail service says in its
``Authentication-Results`` header (RFC 8601).

Anyone can write any From, and anyone can add an ``Authentication-Results`` header of their own
that says ``dmarc=pass``. So only headers whose authserv-id is the one configured
(COACH_INBOUND_AUTHSERV_ID, the name our mail service writes first in the header) are read,
and of those only the topmost: the service adds its own above what the message arrived with.
The From is believed when that header says ``dmarc=pass`` with ``header.from`` the From's
domain, or, with no DMARC result, both ``spf=pass`` with ``smtp.mailfrom`` and ``dkim=pass``
with ``header.d`` in that same domain. No configured id: the From is never believed.
"""

import re
from collections.abc import Iterable

COMMENT = re.compile(r"\([^()]*\)")  # RFC 8601 allows comments anywhere; innermost first
AROUND_EQUALS = re.compile(r"\s*=\s*")
MAX_CHARS = 2000  # a real header is a few hundred; a longer one is not our service's


def from_verified(headers: Iterable[tuple[str, str]], domain: str, authserv_id: str) -> bool:
    """``headers`` as the message holds them, top to bottom (``EmailMessage.raw_items``)."""
    results = _trusted_results(headers, authserv_id.strip().lower())
    if results is None:
        return False
    domain = domain.lower()
    if "dmarc" in results:
        return _passed(results, "dmarc", "header.from", domain)
    return (_passed(results, "spf", "smtp.mailfrom", domain)
            and _passed(results, "dkim", "header.d", domain))


Results = dict[str, list[tuple[str, dict[str, str]]]]  # method: [(result, properties)]


def _trusted_results(headers: Iterable[tuple[str, str]], authserv_id: str) -> Results | None:
    if not authserv_id:
        return None
    for name, value in headers:
        if name.strip().lower() == "authentication-results" and len(value) <= MAX_CHARS:
            found, results = _read(value)
            if found == authserv_id:
                return results
    return None


def _read(value: str) -> tuple[str, Results]:
    """The authserv-id and the results of one header value."""
    text = " ".join(value.split())
    while COMMENT.search(text):
        text = COMMENT.sub(" ", text)
    first, *resinfos = AROUND_EQUALS.sub("=", text).split(";")
    results: Results = {}
    for resinfo in resinfos:
        method, result, properties = _resinfo(resinfo)
        if method:
            results.setdefault(method, []).append((result, properties))
    return (first.split() or [""])[0].lower(), results


def _resinfo(resinfo: str) -> tuple[str, str, dict[str, str]]:
    """``dkim=pass header.d=example.org`` as (``dkim``, ``pass``, {``header.d``: ...})."""
    words = resinfo.lower().split()
    if not words or "=" not in words[0]:
        return "", "", {}
    method, _, result = words[0].partition("=")
    pairs = (word.partition("=") for word in words[1:])
    return (method.split("/")[0], result,
            {name: value.strip('"') for name, sign, value in pairs if sign})


def _passed(results: Results, method: str, prop: str, domain: str) -> bool:
    return any(result == "pass" and properties.get(prop, "").rpartition("@")[2] == domain
               for result, properties in results.get(method, []))
