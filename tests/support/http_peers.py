"""Local HTTP peers: a request handler served on a free loopback port from a thread of this
process, for the fake Twilio and the recording proxies in front of Prism."""

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

Event = TypeVar("Event")


class LocalServer(ThreadingHTTPServer):
    """``handler`` served on a free loopback port from a daemon thread, until ``stop``."""

    daemon_threads = True
    request_queue_size = 64  # a burst of connections from many worker processes at once

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


def answer_json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    """Write ``body`` as the JSON answer to the handler's request."""
    payload = json.dumps(body).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    except OSError:
        pass  # the client gave up waiting (a held answer): that was the point


def run_hook(errors: list[BaseException], hook: Callable[[Event], None] | None,
             event: Event) -> None:
    """A test's hook inside a peer (HTTP or SMTP): what it raises is kept in ``errors`` for the
    test to assert on, and the peer answers all the same."""
    try:
        if hook is not None:
            hook(event)
    except Exception as error:
        errors.append(error)
