"""A small Twilio-shaped HTTP server for the answers Prism cannot give.

Prism serves Twilio's spec, which has none of Twilio's own error codes. This server answers
``POST …/Messages.json`` with what a test scripts: an error in Twilio's JSON shape (21610,
21211, 21614, 20429 with HTTP 429, a 500), an answer held past the client's read timeout, or
a connection closed without an answer. Unscripted requests get 201 and a new message SID.
Every request it receives is recorded, so a test can count what reached "Twilio".
"""

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

MESSAGES = {  # Twilio's words for its errors
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "The 'To' number is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}


@dataclass(frozen=True)
class Answer:
    status: int = 201
    code: int | None = None  # Twilio's error code
    hold: float = 0.0  # seconds before answering (or until the test ends)
    drop: bool = False  # close the connection after reading the request, answering nothing


class FakeTwilio:
    def __init__(self) -> None:
        self.answers: list[Answer] = []  # the next answers, in order; then 201s
        self.requests: list[dict[str, str]] = []  # the form of each request received
        self.release = threading.Event()  # ends every held answer
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self.answers, self.requests = list(answers), []
        self.release.clear()

    def next_answer(self, form: dict[str, str]) -> Answer:
        with self._lock:
            self.requests.append(form)
            return self.answers.pop(0) if self.answers else Answer()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            answer = fake.next_answer(form)
            if answer.drop:
                self.close_connection = True
                return
            if answer.hold:
                fake.release.wait(answer.hold)
            self._answer(answer, form, len(fake.requests))

        def _answer(self, answer: Answer, form: dict[str, str], number: int) -> None:
            body: dict[str, Any] = (
                {"sid": f"SM{number:032x}", "status": "queued", "to": form.get("To"),
                 "body": form.get("Body")}
                if answer.status < 400 else
                {"code": answer.code, "message": MESSAGES.get(answer.code or 0, "Error"),
                 "more_info": f"https://www.twilio.com/docs/errors/{answer.code}",
                 "status": answer.status})
            payload = json.dumps(body).encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting: that was the point

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
