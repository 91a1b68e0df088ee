"""What every part of the web app shares: settings, sessions, pages, the clock, the queue."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from coach.db import utcnow
from coach.settings import PROJECT_ROOT, Settings
from coach.web.csrf import csrf_token

Enqueue = Callable[[list[int]], None]


@dataclass(frozen=True)
class Web:
    settings: Settings
    factory: sessionmaker[Session]
    enqueue: Enqueue  # sends go to the workers, never inline in a request
    now: Callable[[], datetime] = utcnow
    pages: Jinja2Templates = field(default_factory=lambda: Jinja2Templates(
        directory=str(PROJECT_ROOT / "templates" / "web"), context_processors=[_form_token]))

    def missing(self, request: Request) -> Response:
        return self.pages.TemplateResponse(request, "missing.html", {}, status_code=404)


def _form_token(request: Request) -> dict[str, object]:
    """Templates call ``csrf_token()`` inside each form; pages without one set no cookie."""
    return {"csrf_token": lambda: csrf_token(request)}


def as_sentence(error: str) -> str:
    """An error message for a page: a capital to start (unless it starts with an address, kept
    as written) and a full stop to end."""
    first = error.split(" ", 1)[0]
    start = error if "@" in first else error[:1].upper() + error[1:]
    return start if start.endswith(".") else start + "."
