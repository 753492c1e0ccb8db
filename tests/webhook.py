"""A real HTTP webhook receiver on 127.0.0.1 for notification tests: it keeps every JSON body."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOLD_SECONDS = 5.0


class WebhookReceiver:
    """Listens on a free port in a thread; answers every POST with `status` (200 unless set)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        # While set, each answer waits for release(); `answered` says, per request, whether
        # release() let it go (True) or the wait gave up after HOLD_SECONDS (False).
        self.holding = False
        self.answered: list[bool] = []
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        # Shaped like a chat service's webhook, whose path is its secret.
        return f"http://127.0.0.1:{self.port}/hooks/T000/B000/s3cr3t-path"

    def events(self, event: str) -> list[dict[str, Any]]:
        return [body for body in list(self.received) if body.get("event") == event]

    def hold(self) -> None:
        self.holding = True
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def wait_if_held(self) -> None:
        if self.holding:
            self.answered.append(self._release.wait(timeout=HOLD_SECONDS))

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            receiver.received.append(json.loads(body))
            receiver.wait_if_held()
            self.send_response(receiver.status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output to the tests

    return Handler
