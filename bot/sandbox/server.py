"""The HTTP side of the fake Bot API: aiohttp app and routing, request decoding and logging."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from .errors import BotApiError, RawFailure, bad_request
from .faults import FAULT_EXEMPT
from .methods import RegisteredMethod
from .params import INT_RE, ApiParams, UploadedFile, coerce_form_value
from .state import BotEvent, RecordedRequest
from .validation import MAX_REQUEST_SIZE

if TYPE_CHECKING:
    from telegram.ext._applicationbuilder import InitApplicationBuilder

__all__ = ["BotApiServer"]

_LOG = logging.getLogger(__name__)

JSONDict = dict[str, Any]


class BotApiServer:
    """Lifecycle, routing and request plumbing, mixed into FakeBotApi, which holds the state."""

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the HTTP server (port 0 picks a free port)."""
        if self._runner is not None:
            raise RuntimeError("server already started")
        app = web.Application(client_max_size=MAX_REQUEST_SIZE)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # Cancelling handlers of dropped connections retires long polls abandoned by PTB.
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self._closing = False
        host, port = runner.addresses[0][:2]
        self.port = port
        self._url = f"http://{host}:{port}"
        _LOG.debug("Fake Bot API listening on %s", self._url)

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self._wake_pollers()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Root URL of the running server, e.g. ``http://127.0.0.1:40123``."""
        if self._url is None:
            raise RuntimeError("server is not started")
        return self._url

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder.base_url``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``ApplicationBuilder.base_file_url``."""
        return f"{self.url}/file/bot"

    def application_builder(self) -> InitApplicationBuilder:
        """A PTB ``ApplicationBuilder`` pointed at this server with the server's token."""
        # Imported late so the server itself doesn't depend on PTB.
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    # ---- HTTP -----------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        name = request.match_info["method"]
        entry = self._methods.get(name.lower())
        params = ApiParams(entry.name if entry is not None else name, {})
        try:
            if request.match_info["token"] != self.token:
                raise BotApiError(401, "Unauthorized")
            values, files = await self._read_params(request)
            params = ApiParams(params.method, values, files)
            if entry is None:
                _LOG.warning(
                    "Fake Bot API has no method %r; answering 404 as Telegram does for unknown "
                    "methods (extend it with register_method)",
                    name,
                )
                raise BotApiError(404, "Not Found")
            result = await self._dispatch(entry, params)
        except BotApiError as exc:
            self._record_failure(params, started, exc.status, exc.description)
            return self._json_response(exc.status, exc.to_payload())
        except RawFailure as failure:
            self._record_failure(params, started, failure.status, failure.description)
            return web.Response(status=failure.status, text=failure.body, content_type="text/html")
        except Exception as exc:
            # A sandbox bug must not look like a hang to the bot: answer like a broken server.
            _LOG.exception("Fake Bot API crashed handling %s", params.method)
            error = BotApiError(500, f"Internal Server Error: {exc!r}")
            self._record_failure(params, started, error.status, error.description)
            return self._json_response(error.status, error.to_payload())
        self._record(params, started, 200, None, self._chat_id_hint(params))
        return self._json_response(200, {"ok": True, "result": result})

    async def _dispatch(self, entry: RegisteredMethod, params: ApiParams) -> Any:
        key = entry.name.lower()
        chat_id = self._chat_id_hint(params)
        delay = self.latency if key not in FAULT_EXEMPT else 0.0
        fault = next((f for f in self.faults if f.matches(key, chat_id)), None)
        if fault is not None:
            fault.hits += 1
            delay += fault.delay
            if fault.exhausted:
                self.faults.remove(fault)
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is not None and not fault.deliver:
            fault.fail()
        if key in ("sendmessage", "sendphoto", "senddocument"):
            self._check_flood(chat_id)
        result = entry.handler(params)
        if inspect.isawaitable(result):
            result = await result
        if fault is not None:
            fault.fail()
        return result

    def _check_flood(self, chat_id: int | None) -> None:
        flood = self._flood
        if flood is None:
            return
        now = time.monotonic()
        while flood.sent and flood.sent[0][0] <= now - 1.0:
            flood.sent.popleft()
        too_many = flood.global_per_second is not None and (
            len(flood.sent) >= flood.global_per_second
        )
        if not too_many and flood.per_chat_per_second is not None:
            in_chat = sum(1 for _, chat in flood.sent if chat == chat_id)
            too_many = in_chat >= flood.per_chat_per_second
        if too_many:
            raise BotApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        flood.sent.append((now, chat_id if chat_id is not None else 0))

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
        values: JSONDict = {
            key: coerce_form_value(key, value) for key, value in request.query.items()
        }
        files: dict[str, UploadedFile] = {}
        if not request.body_exists:
            return values, files
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError:
                raise bad_request("can't parse JSON encoded request parameters") from None
            if not isinstance(body, dict):
                raise bad_request("JSON encoded request parameters must be an object")
            values.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(value.filename, value.content_type, value.file.read())
                else:
                    values[key] = coerce_form_value(key, str(value))
        else:
            await request.read()
        return values, files

    def _record_failure(
        self, params: ApiParams, started: float, status: int, description: str
    ) -> None:
        chat_id = self._chat_id_hint(params)
        self._record(params, started, status, description, chat_id)
        if chat_id is not None and params.method.lower() not in FAULT_EXEMPT:
            self._add_event(
                BotEvent(
                    kind="error",
                    chat_id=chat_id,
                    method=params.method,
                    time=time.monotonic(),
                    status=status,
                    description=description,
                )
            )

    @staticmethod
    def _json_response(status: int, payload: JSONDict) -> web.Response:
        return web.Response(
            status=status,
            body=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
            content_type="application/json",
        )

    def _record(
        self,
        params: ApiParams,
        started: float,
        status: int,
        description: str | None,
        chat_id: int | None,
    ) -> None:
        if not self.record_requests:
            return
        self.requests.append(
            RecordedRequest(
                method=params.method,
                params=params.values,
                time=started,
                status=status,
                description=description,
                chat_id=chat_id,
                files={
                    name: (upload.filename, len(upload.data))
                    for name, upload in params.files.items()
                },
            )
        )

    def _chat_id_hint(self, params: ApiParams) -> int | None:
        value = params.values.get("chat_id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            if INT_RE.fullmatch(value):
                return int(value)
            found = self._chat_by_username(value)
            return found.chat_id if found else None
        query_id = params.values.get("callback_query_id")
        if query_id is not None:
            query = self._callback_queries.get(str(query_id))
            return query.chat_id if query else None
        return None

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )
