"""The web fixtures (an app on a clock the test moves, sending in this process) for the attacks
on pages and forms. Modules that attack another surface import their own fixtures."""

from tests.web.conftest import client, clock, enqueue, make_client  # noqa: F401
