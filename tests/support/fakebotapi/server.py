"""The HTTP side: a tornado server on its own thread and event loop.

tornado reads requests (keep-alive, chunked bodies, forms and multipart parts); each call is then
answered on a worker thread, because a handler may block: a long poll waits for updates, and a
test's own handler may be slow on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

from tornado import httpserver, iostream, netutil, web

from .model import JSON, UploadedFile
from .params import request_params

#: ``dispatch(token, method, params, files, at) -> (HTTP status, JSON answer)``
Dispatch = Callable[[str, str, JSON, dict[str, UploadedFile], float], tuple[int, JSON]]
#: ``serve_file(token, path) -> (HTTP status, content type, body)``
ServeFile = Callable[[str, str], tuple[int, str, bytes]]

_WORKERS = 64
_STOP_TIMEOUT = 5.0


def _error(code: int, description: str) -> JSON:
    return {"ok": False, "error_code": code, "description": description}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _Handler(web.RequestHandler):
    """Answers in JSON like the Bot API, also for tornado's own errors (a bad body: 400)."""

    server: HttpServer

    def initialize(self, server: HttpServer) -> None:
        self.server = server

    def compute_etag(self) -> None:
        return None  # no ETag, no 304: every call is answered in full

    async def send(self, status: int, ctype: str, data: bytes) -> None:
        self.set_status(status, _phrase(status))
        self.set_header("Content-Type", ctype)
        with contextlib.suppress(iostream.StreamClosedError):  # the client has gone
            await self.finish(data)

    async def send_json(self, status: int, answer: JSON) -> None:
        text = json.dumps(answer, ensure_ascii=False)
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate a client sent: escaped, as JSON allows
            data = json.dumps(answer).encode()
        await self.send(status, "application/json", data)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if not isinstance(value, web.HTTPError):  # a bad request is answered, not logged
            super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        detail = getattr(error, "log_message", None)  # tornado.web.HTTPError's
        description = f"{_phrase(status_code)}: {detail}" if detail else _phrase(status_code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(_error(status_code, description)))


class _ApiCall(_Handler):
    """/bot<token>/<method>"""

    async def get(self, token: str, method: str) -> None:
        with self.server.busy():
            try:
                params, files = request_params(self.request)
            except ValueError as exc:
                await self.send_json(400, _error(400, f"Bad Request: {exc}"))
                return
            at = time.monotonic()
            status, answer = await self.server.in_worker(
                self.server.dispatch, token, method, params, files, at)
            await self.send_json(status, answer)

    post = get


class _FileDownload(_Handler):
    """/file/bot<token>/<file_path>"""

    async def get(self, token: str, path: str) -> None:
        with self.server.busy():
            await self.send(*await self.server.in_worker(self.server.serve_file, token, path))


class _NotFound(_Handler):
    async def get(self, *args: str) -> None:
        await self.send_json(404, _error(404, "Not Found"))

    post = get


class HttpServer:
    """Serve ``dispatch`` and ``serve_file`` on host:port until ``stop()``."""

    def __init__(self, dispatch: Dispatch, serve_file: ServeFile) -> None:
        self.dispatch, self.serve_file = dispatch, serve_file
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._busy = 0
        self._idle: asyncio.Event | None = None

    def start(self, host: str, port: int) -> int:
        """Listen (port 0: a free one) and serve in a daemon thread; returns the port."""
        sockets = netutil.bind_sockets(port, host, backlog=256)
        self.port = sockets[0].getsockname()[1]
        self._executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix=f"FakeBotAPI:{self.port}")
        ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(sockets, ready),),
                                        name=f"FakeBotAPI:{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(_STOP_TIMEOUT):
            raise RuntimeError("the fake Bot API server did not start")
        return self.port

    def stop(self) -> None:
        """Stop listening, let calls under way answer (a few seconds at most), close the rest."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(2 * _STOP_TIMEOUT)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._thread = self._loop = self._stopping = self._executor = None

    async def _serve(self, sockets: list[Any], ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping, self._idle = asyncio.Event(), asyncio.Event()
        self._idle.set()
        app = web.Application([
            (r"/bot([^/]*)/?(.*)", _ApiCall, {"server": self}),
            (r"/file/bot([^/]*)/(.*)", _FileDownload, {"server": self}),
        ], default_handler_class=_NotFound, default_handler_args={"server": self},
            log_function=lambda handler: None)
        http = httpserver.HTTPServer(app)
        http.add_sockets(sockets)
        ready.set()
        await self._stopping.wait()
        http.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), _STOP_TIMEOUT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(http.close_all_connections(), _STOP_TIMEOUT)

    async def in_worker(self, function: Callable[..., Any], *args: Any) -> Any:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._executor, function, *args)

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Count a call under way: stop() lets calls answer before it closes connections."""
        assert self._idle is not None
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()
