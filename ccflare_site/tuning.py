"""Process-wide tuning applied once when the ASGI app loads, each measured with `make bench`."""

import asyncio
import datetime
import gc
import logging
import resource
import sys
import time
from collections.abc import Callable
from typing import Any, cast

from ccflare_site import prompt_writes, reaping, web_request

logger = logging.getLogger(__name__)

# The recorder's thread competes for the GIL; a shorter switch interval than
# the default 5 ms bounds how long it can hold up the event loop.
SWITCH_INTERVAL_SECONDS = 0.001
# The open-files limit asked for where the hard limit is "unlimited" (macOS's default).
OPEN_FILES_WITHOUT_HARD_LIMIT = 10_240


def tune() -> None:
    raise_open_files_limit()
    freeze_startup_heap()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    lighten_log_records()
    skip_twisted_form_parsing()
    skip_twisted_access_log()
    skip_reactor_log_context()
    web_request.install()
    prompt_writes.install()
    install_guarded_channel()
    redact_access_log()
    deepen_listen_backlog()
    drain_before_shutdown()
    reaping.reap_finished_requests()


def raise_open_files_limit() -> None:
    """Let the server hold as many sockets as the system lets it (its hard limit).

    Each open stream holds two descriptors, the client's and the upstream's. Most systems
    start a process with a soft limit of 1024 (macOS: 256) under a far higher hard one:
    near that many streams the server ran out, the upstream connects failed (then 502s and
    failovers that cooled accounts down; now 503s to retry, proxy.attempts), and the
    database could not open its files. Go's runtime raises the limit the same way at start.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else OPEN_FILES_WITHOUT_HARD_LIMIT
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (OSError, ValueError) as error:  # macOS caps it lower than an unlimited hard limit
        logger.warning("server.open_files_limit soft=%d kept: %s", soft, error)


def lighten_log_records() -> None:
    """Skip what logging looks up for each record that no formatter of ours prints.

    It walks the stack for the caller's file, line and function, and asks for the
    thread's and the process's name and id; analytics.operations.logs prints none of
    them. These are the switches the logging HOWTO names under "Optimization". At the
    default LOG_LEVEL=INFO every request logs a line: about 5 µs less for each.
    """
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def freeze_startup_heap() -> None:
    """Move everything allocated at start-up out of the cyclic GC's sight.

    docs/architecture.md, the hot path: full collections walking Django's start-up heap caused a
    12-24 ms p99; frozen objects are never scanned again.
    """
    gc.collect()
    gc.freeze()


def skip_twisted_form_parsing() -> None:
    """Stop Twisted parsing every POST body's content type and form fields.

    Daphne hands the raw body to the app and never reads Twisted's parsed
    `request.args`, yet Twisted's Request runs the content type of every POST
    through the `email` package: 13% of the event loop's CPU under load. Twisted's
    own switch for this is the `parsePOSTFormSubmission` argument, which daphne
    does not pass, so it is defaulted here.
    """
    try:
        from daphne.http_protocol import WebRequest
        from twisted.web.iweb import INonQueuedRequestFactory
        from zope.interface import directlyProvides  # type: ignore[import-untyped]
    except ImportError:
        return
    original = WebRequest.__init__
    if getattr(original, "skips_form_parsing", False):
        return

    def __init__(self: WebRequest, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("parsePOSTFormSubmission", False)
        original(self, *args, **kwargs)

    __init__.skips_form_parsing = True  # type: ignore[attr-defined]
    WebRequest.__init__ = __init__
    # Twisted asks of every request's factory whether it takes the (deprecated) `queued`
    # argument, through zope's providedBy on a class that declares nothing: 1% of the
    # loop's CPU. Declared, the answer is one lookup, and daphne's request takes either.
    directlyProvides(WebRequest, INonQueuedRequestFactory)


def skip_twisted_access_log() -> None:
    """Stop Twisted formatting a second access-log line per request that nobody reads.

    daphne writes its own access log (redacted below); Twisted's HTTPFactory also
    formats a combined-log line for every request and hands it to Twisted's legacy
    log, which daphne sends nowhere at its default verbosity (and which would only
    repeat daphne's own line at higher ones): about 2% of the event loop's CPU under
    load (docs/performance.md).
    """
    try:
        from daphne.http_protocol import HTTPFactory
    except ImportError:
        return

    def log(self: HTTPFactory, request: object) -> None:
        return None

    HTTPFactory.log = log


def skip_reactor_log_context() -> None:
    """Call each socket's read and write handler directly from the event loop.

    Twisted's asyncio reactor registers every reader and writer through
    `log.callWithLogger`, which asks the connection for its log prefix and runs the
    handler inside a copied logging context: four Python frames and two dicts per
    socket event, two or three events a request, for a prefix that only Twisted's
    legacy log would print (daphne logs through `logging`). The handler the reactor
    wraps, `_readOrWrite`, already catches and logs what the connection raises.
    """
    from twisted.internet import asyncioreactor

    def call_handler(logger: object, handler: Callable[..., Any], *args: Any) -> Any:
        return handler(*args)

    asyncioreactor.callWithLogger = call_handler  # type: ignore[attr-defined]


# Connections a burst may open before daphne accepts them (Twisted's default is 50).
LISTEN_BACKLOG = 1024


def deepen_listen_backlog() -> None:
    """Listen with a queue of LISTEN_BACKLOG instead of Twisted's 50.

    A burst of a few hundred new connections (a team's clients reconnecting, a
    load test) overflowed the 50: some were cut without an answer. daphne builds
    its `tcp:` endpoint strings without a backlog, and builds them before the app
    loads, so the default is raised in Twisted's parser for them, which daphne
    calls only after this runs.
    """
    from twisted.internet import endpoints

    # Twisted's parser table is untyped (its values are just "function" to the checker).
    parse = cast(Callable[..., Any], endpoints._serverParsers["tcp"])
    if getattr(parse, "deepened", False):
        return

    def parse_tcp(
        factory: object, port: str, interface: str = "", backlog: int = LISTEN_BACKLOG
    ) -> Any:
        return parse(factory, port, interface=interface, backlog=backlog)

    parse_tcp.deepened = True  # type: ignore[attr-defined]
    endpoints._serverParsers["tcp"] = parse_tcp


def install_guarded_channel() -> None:
    """Serve every HTTP/1.1 connection with http_channel.GuardedChannel.

    Done here rather than by flags in serve.py so that a bare `daphne ...`
    (README, Configuration) gets the request deadlines and the 408/414/431 answers too.
    """
    try:
        from daphne.http_protocol import HTTPFactory
    except ImportError:
        return
    from django.conf import settings

    from ccflare_site import body_budget, http_channel, web_request

    http_channel.GuardedChannel.header_timeout_seconds = settings.HEADER_TIMEOUT_SECONDS
    http_channel.GuardedChannel.body_timeout_seconds = settings.BODY_TIMEOUT_SECONDS
    http_channel.GuardedChannel.body_limit = web_request.body_limit()
    # Never below one largest body: alone, any body the limit lets in must fit.
    bodies = settings.MAX_BODIES_MB * 1024 * 1024
    body_budget.budget.limit = max(bodies, http_channel.GuardedChannel.body_limit)
    shortest = min(settings.HEADER_TIMEOUT_SECONDS, settings.BODY_TIMEOUT_SECONDS)
    http_channel.sweep.interval = min(1.0, shortest / 4)
    HTTPFactory.protocol = http_channel.build_protocol


# A path is logged up to this long: a request line may run to 16 KB, every line of it.
LOGGED_PATH_CHARS = 1000


def redact_access_log() -> None:
    """Redact credentials from daphne's access log as from every other log line.

    daphne writes that log (on stdout by default) straight to a stream, past the
    logging module and its RedactingFilter, and a query string such as
    `?api_key=...` is part of each line. The line of a finished HTTP request, one per
    request, is written here in one step in daphne's format (its date formatted once
    a second); websocket lines keep daphne's own path.
    """
    try:
        from daphne.access import AccessLogGenerator
    except ImportError:
        return
    from analytics.operations import logs

    original_call, original_write = AccessLogGenerator.__call__, AccessLogGenerator.write_entry
    if getattr(original_write, "redacts", False):
        return

    def write_entry(
        self: AccessLogGenerator, host: str, date: object, request: str, **rest: object
    ) -> None:
        original_write(self, host, date, logs.redact(request), **rest)

    def log(self: AccessLogGenerator, protocol: str, action: str, details: dict) -> None:
        if protocol != "http" or action != "complete":
            original_call(self, protocol, action, details)
            return
        path = details["path"]
        if len(path) > LOGGED_PATH_CHARS:
            path = path[:LOGGED_PATH_CHARS] + "..."
        request = logs.redact(f"{details['method']} {path}")
        self.stream.write(
            f'{details["client"]} - - [{_access_log_date()}] "{request}" '
            f"{details['status'] or '-'} {details['size'] or '-'}\n"
        )

    write_entry.redacts = True  # type: ignore[attr-defined]
    AccessLogGenerator.write_entry = write_entry
    AccessLogGenerator.__call__ = log


_date_second, _date_text = 0, ""


def _access_log_date() -> str:
    """daphne's date for the access log (local time, to the second), made once a second."""
    global _date_second, _date_text
    second = int(time.time())
    if second != _date_second:
        local = datetime.datetime.fromtimestamp(second, tz=datetime.UTC).astimezone()
        stamp = local.strftime("%d/%b/%Y:%H:%M:%S")
        _date_second, _date_text = second, stamp
    return _date_text


# How often a draining server looks whether its requests in flight are done.
DRAIN_POLL_SECONDS = 0.1
# How long a draining server gives its live event streams to end their answers.
STREAMS_END_SECONDS = 2.0


def when_serving(call: Callable[[], object]) -> None:
    """Under daphne, `call` once the server runs, inside its event loop.

    Daphne honours no ASGI start-up hook, but it installs Twisted's asyncio reactor
    before it loads the app: a call scheduled on it runs in the server's loop once that
    starts. Elsewhere (other servers, tests) nothing is scheduled.
    """
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is not None and hasattr(reactor, "_asyncioEventloop"):
        reactor.callLater(0, call)


def drain_before_shutdown() -> None:
    """On SIGTERM, stop accepting and let the HTTP requests in flight finish first.

    Daphne's own shutdown cancels every request at once, so a restart (an upgrade,
    `systemctl restart`, a container stop) would cut the answers being streamed.
    Its shutdown step is wrapped: close the listening ports and the idle keep-alive
    connections (the busy ones close after their answer), tell the live event
    streams to end their answers (they never finish by themselves), wait until no
    HTTP request and no token refresh is running or SHUTDOWN_DRAIN_SECONDS pass, then
    daphne's step cancels what is left (websockets).
    """
    try:
        from daphne.server import Server
    except ImportError:
        return
    original = Server.kill_all_applications
    if getattr(original, "drains", False):
        return
    from django.conf import settings
    from twisted.internet import defer

    def kill_all_applications(self: Server) -> Any:
        drained = defer.Deferred.fromFuture(
            asyncio.ensure_future(_drain(self, within=settings.SHUTDOWN_DRAIN_SECONDS))
        )
        drained.addBoth(lambda _: original(self))
        return drained

    kill_all_applications.drains = True  # type: ignore[attr-defined]
    Server.kill_all_applications = kill_all_applications


async def _drain(server: Any, *, within: float) -> None:
    from twisted.internet import reactor, tcp

    from accounts import tokens
    from analytics.live import streams
    from ccflare_site import http_channel

    for reader in reactor.getReaders():  # type: ignore[misc]
        if isinstance(reader, tcp.Port):
            reader.stopListening()
    http_channel.end_keep_alive()
    streams.end_all()
    deadline = time.monotonic() + within
    # Polled: daphne tells no one when a request finishes. The live streams are ending
    # by themselves (a moment); they are not what the drain waits for.
    streams_end = time.monotonic() + STREAMS_END_SECONDS
    while time.monotonic() < deadline:
        requests, event_streams = _requests_in_flight(server)
        busy = requests or tokens.refreshes_in_flight()
        if not busy and not (event_streams and time.monotonic() < streams_end):
            return
        await asyncio.sleep(DRAIN_POLL_SECONDS)


def _requests_in_flight(server: Any) -> tuple[int, int]:
    """HTTP requests still running: (answers, live event streams); websockets aside."""
    from daphne.ws_protocol import WebSocketProtocol

    answers = event_streams = 0
    for protocol, details in list(server.connections.items()):
        instance = details.get("application_instance")
        if instance is None or instance.done() or isinstance(protocol, WebSocketProtocol):
            continue
        if _is_event_stream(protocol):
            event_streams += 1
        else:
            answers += 1
    return answers, event_streams


def _is_event_stream(protocol: Any) -> bool:
    # The API's live streams (/api/requests/stream, /api/logs/stream) last until the client leaves.
    path = getattr(protocol, "path", None) or b""
    return path.split(b"?", 1)[0].rstrip(b"/").endswith(b"/stream")
