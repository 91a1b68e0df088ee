"""ASGI entry point for production servers: `uvicorn coach.web.asgi:app`."""

from coach.delivery.channels import check_channels
from coach.settings import get_settings
from coach.web.access_log import hide_tokens_in_access_logs
from coach.web.app import create_app


def _app():  # type: ignore[no-untyped-def]
    from tasks.jobs import send

    settings = get_settings()
    settings.check_production_ready()
    check_channels(settings)
    hide_tokens_in_access_logs()
    return create_app(settings, lambda ids: send.delay(ids))  # never the dev inbox


app = _app()
