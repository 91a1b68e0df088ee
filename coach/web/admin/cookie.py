"""The admin session cookie: the token only, HttpOnly, SameSite=Strict, for /admin only, and
Secure whenever coach is reached over https. Its life is decided on the server (the cookie
itself ends with the browser)."""

from starlette.responses import Response

from coach.settings import Settings
from coach.web.admin.guard import COOKIE

PATH = "/admin"


def with_session(response: Response, token: str, settings: Settings) -> Response:
    response.set_cookie(COOKIE, token, path=PATH, httponly=True, samesite="strict",
                        secure=settings.public_url.startswith("https://"))
    return response


def without_session(response: Response, settings: Settings) -> Response:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict",
                           secure=settings.public_url.startswith("https://"))
    return response
