"""Real servers on loopback for the marketing tests: an SMTP server (aiosmtpd), a Twilio-like
Messages API and a webhook receiver (http.server), and a clock the tests move by hand."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def caught_up(app) -> None:
    """Waits (bounded) until the app's read models hold every event stored so far, including
    those workers stored, which no consistency token names."""
    head = app.state.crm.recorder.max_notification_id()
    store = app.state.store
    for _ in range(500):
        if store.position("customer_directory") >= head:  # every projection moves together
            return
        with store.committed:
            store.committed.wait(0.05)
    raise AssertionError("the read models did not catch up")


class FakeClock:
    """A clock that only moves when told: ``clock()`` is now, ``clock.advance(seconds=30)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


# -- SMTP -------------------------------------------------------------------------------------

@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage

    def part(self, subtype: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                return part.get_content()
        raise KeyError(subtype)


class SmtpSink:
    """Collects every message; addresses with ``+tempfail`` are refused (451) once, addresses
    with ``+reject`` always (550). With ``user``/``password`` it requires STARTTLS and AUTH."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()
        self._tempfailed: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "+reject" in address:
            self.refused.append(address)
            return "550 5.1.1 mailbox unavailable"
        if "+tempfail" in address and address not in self._tempfailed:
            self._tempfailed.add(address)
            self.refused.append(address)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=email.policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def start_smtp(sink: SmtpSink, tls: tuple[Path, Path] | None = None,
               login: tuple[str, str] | None = None) -> Controller:
    kwargs: dict[str, Any] = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        kwargs.update(tls_context=context, require_starttls=True)
    if login:
        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)
        kwargs.update(authenticator=authenticator, auth_required=True)
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


# -- HTTP servers --------------------------------------------------------------------------

@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class HttpRecorder:
    """A loopback HTTP server recording every request; ``respond(request) -> (status, body)``
    decides each answer (default 200 {}). ``hold`` (a threading.Event) makes requests wait
    until it is set, for tests that kill a client mid-request."""

    respond: Callable[[Request], tuple[int, Any]] = lambda request: (200, {})
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length))
                with recorder.lock:
                    recorder.requests.append(request)
                status, body = recorder.respond(request)
                raw = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the client went away (was killed) while we held the answer
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def matching(self, predicate: Callable[[Request], bool]) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if predicate(r)]


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
