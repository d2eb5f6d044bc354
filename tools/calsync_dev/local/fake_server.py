"""The fake Calendly (``calsync_dev.fake_calendly``) over HTTP, for the local stack: the API
and ``/oauth/token`` on one port, each request answered by ``FakeCalendly.handle``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from calsync_dev.fake_calendly import LOST, FakeCalendly


def serve(fake: FakeCalendly, host: str, port: int) -> ThreadingHTTPServer:
    """Serve the fake over HTTP (both the API and /oauth/token on one port)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = fake.handle(self.command, self.path, headers, body)
            if status == LOST:
                self.close_connection = True  # no answer at all
                return
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            if status == 302 and isinstance(payload, dict):
                self.send_header("Location", payload["location"])
            for name, value in fake.headers_for(status).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _any

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="fake-calendly", daemon=True).start()
    return server
