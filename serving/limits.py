"""Limits that keep unauthenticated clients from exhausting the server (issue 13, item 4).

Nothing is read from a client without a bound: how large its header may be, how many fields
it may have, how long it may take to send header and body, how long an idle connection stays
open, how many connections a worker serves, how long SIGTERM waits. All are ``RISKGRADE_*``
settings (``serving.settings``); the README's "Serving" section has the table.

Where each is enforced -- at the lowest layer that sees it in time:

- **uvicorn's own options** (``uvicorn_options``, passed by ``riskgrade serve``):
  ``timeout_keep_alive``, ``timeout_graceful_shutdown`` (requests in flight are cancelled
  after it) and ``limit_concurrency`` (503 over the connection limit).
- **``LimitedHttpToolsProtocol``**, uvicorn's httptools protocol with what uvicorn lacks. The
  header must be bounded *while it is read*: httptools collects a field's value whole before
  handing it over (a 64 MB value became 64 MB, copied once per read), so the bytes of an
  unfinished header are counted as they arrive and the connection is answered 431 and closed
  as soon as they exceed ``max_header_bytes`` (at most one socket read, 256 KiB, is taken
  beyond it); the parsed size and the field count are checked field by field. A timer armed
  when the connection opens (or a later request's first byte arrives) closes it when the
  header is not complete within ``header_timeout_seconds``: 408 if part of a request came,
  silently if nothing did. A second timer covers a body that the service does not read (an
  answer given before it, such as 401): still incomplete after ``body_timeout_seconds``, the
  connection is closed instead of draining it for ever.
- **``BodyTimeoutMiddleware``** (pure ASGI, in ``create_app``): the service reading a body
  gets it within ``body_timeout_seconds`` of the header's end or answers 408 (connection
  closed); a response can only come from the application while it waits for the body.

``riskgrade serve`` selects the protocol (``PROTOCOL``); running uvicorn by hand needs
``--http serving.limits:LimitedHttpToolsProtocol`` and the options of ``uvicorn_options``.
The protocol reads the settings once per process, from the environment as the app does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from serving.errors import error_json
from serving.settings import Settings

log = logging.getLogger("riskgrade.serving")
PROTOCOL = "serving.limits:LimitedHttpToolsProtocol"


@dataclass(frozen=True)
class ConnectionLimits:
    """What the protocol enforces (bytes, fields, seconds)."""

    max_header_bytes: int
    max_header_fields: int
    header_timeout_seconds: float
    body_timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            settings.max_header_bytes,
            settings.max_header_fields,
            settings.header_timeout_seconds,
            settings.body_timeout_seconds,
        )


@functools.cache
def limits_from_environment() -> ConnectionLimits:
    """The limits of this process's ``RISKGRADE_*`` settings, read once (not per connection)."""
    return ConnectionLimits.from_settings(Settings())


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` that carry the limits."""
    return {
        "http": PROTOCOL,
        # uvicorn refuses a request when open connections (its own included) reach the limit
        "limit_concurrency": settings.max_connections + 1,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
    }


class RequestRefusedError(Exception):
    """A request over a limit: answered ``status`` with the message, connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header size, field count, header and body timeouts."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits_from_environment()
        self.reading_head = True  # from a connection's start or a body's end to a header's end
        self.head_bytes = 0  # received while reading_head (the next header's, exactly)
        self.head_size = 0  # parsed: request target and fields
        self.refusal: RequestRefusedError | None = None
        self.head_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.stop_timers()

    def data_received(self, data: bytes) -> None:
        if self.reading_head:
            self.head_bytes += len(data)
        super().data_received(data)  # a refusal raised by a callback ends in send_400_response
        too_large = self.head_bytes > self.limits.max_header_bytes
        if self.reading_head and too_large and not self.transport.is_closing():
            self.refuse(self.too_large())

    def send_400_response(self, msg: str) -> None:
        refusal, self.refusal = self.refusal, None
        if refusal is None:
            super().send_400_response(msg)
        else:
            self.refuse(refusal)

    # parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_size = 0
        if self.head_timer is None:
            self.start_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.head_size += len(url)
        self.check_head()

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.head_size += len(name) + len(value) + 4  # ": " and CRLF
        self.check_head()

    def on_headers_complete(self) -> None:
        self.reading_head = False
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        super().on_headers_complete()
        seconds = self.limits.body_timeout_seconds
        self.body_timer = self.loop.call_later(seconds, self.body_overdue)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_head, self.head_bytes = True, 0
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None

    # limits
    def too_large(self) -> RequestRefusedError:
        limit = self.limits.max_header_bytes
        return RequestRefusedError(
            431, f"request line and header fields larger than the limit of {limit} bytes"
        )

    def check_head(self) -> None:
        """Raised from a parser callback, a refusal stops the parser (see send_400_response)."""
        limit = self.limits.max_header_fields
        if len(self.headers) > limit:
            self.refusal = RequestRefusedError(431, f"more than {limit} header fields")
        elif self.head_size > self.limits.max_header_bytes:
            self.refusal = self.too_large()
        if self.refusal is not None:
            raise self.refusal

    def start_head_timer(self) -> None:
        seconds = self.limits.header_timeout_seconds
        self.head_timer = self.loop.call_later(seconds, self.head_overdue)

    def head_overdue(self) -> None:
        self.head_timer = None
        if not self.reading_head or self.transport.is_closing():
            return
        if self.head_bytes == 0:
            self.transport.close()  # a connection that never sent anything: no answer due
            return
        seconds = self.limits.header_timeout_seconds
        self.refuse(RequestRefusedError(408, f"request header not received within {seconds:g} s"))

    def body_overdue(self) -> None:
        """A body still incomplete: close once the answer is sent (408 if the service waits
        for the body, ``BodyTimeoutMiddleware``), or now if it was sent without reading it."""
        self.body_timer = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body or self.transport.is_closing():
            return
        if cycle.response_complete:
            self.transport.close()
        else:
            cycle.keep_alive = False

    def refuse(self, refusal: RequestRefusedError) -> None:
        """Answer ``refusal`` (unless another answer is under way) and close the connection."""
        client = "{}:{}".format(*self.client) if self.client else "a client"
        log.warning("%s refused with %d: %s", client, refusal.status, refusal)
        if self.cycle is None or self.cycle.response_complete:
            body = str(refusal).encode()
            head = b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            length = b"content-length: %d\r\n\r\n" % len(body)
            self.transport.write(STATUS_LINE[refusal.status] + head + length + body)
        self.transport.close()
        self.stop_timers()

    def stop_timers(self) -> None:
        for timer in (self.head_timer, self.body_timer):
            if timer is not None:
                timer.cancel()
        self.head_timer = self.body_timer = None


class BodyTimeoutError(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"request body not received within {seconds:g} s")


class BodyTimeoutMiddleware:
    """Pure ASGI middleware: the body must arrive within ``seconds`` of the request's start
    (the header's end), else 408 with ``connection: close``."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        state = {"body_done": False, "answered": False}

        async def timed_receive() -> Message:
            if state["body_done"]:  # later calls wait for a disconnect: not a body read
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeoutError(self.seconds) from None
            state["body_done"] = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["answered"] = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except BodyTimeoutError as error:
            if state["answered"]:
                raise
            response = error_json(408, str(error))
            response.headers["connection"] = "close"
            await response(scope, receive, send)
