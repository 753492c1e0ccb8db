"""daphne's access log as ccflare_site.tuning leaves it: daphne's line format, redacted."""

import io
import re

from daphne.access import AccessLogGenerator

from ccflare_site import tuning

DATE = r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d"


def log_line(protocol: str, action: str, details: dict) -> str:
    tuning.redact_access_log()
    stream = io.StringIO()
    AccessLogGenerator(stream)(protocol, action, details)
    return stream.getvalue()


def test_a_finished_request_is_one_line_in_daphnes_format_with_credentials_redacted() -> None:
    details = {
        "path": "/v1/messages?key=sk-ant-api03-secret0001",
        "status": 200,
        "method": "POST",
        "client": "127.0.0.1:5000",
        "time_taken": 0.01,
        "size": 123,
    }

    line = log_line("http", "complete", details)

    expected = rf'127\.0\.0\.1:5000 - - \[{DATE}\] "POST /v1/messages\?key=\[REDACTED\]" 200 123\n'
    assert re.fullmatch(expected, line)


def test_a_missing_size_and_a_websocket_line_read_as_daphne_writes_them() -> None:
    details = {"path": "/x", "status": 204, "method": "GET", "client": "c:1", "size": 0}

    assert re.fullmatch(
        rf'c:1 - - \[{DATE}\] "GET /x" 204 -\n', log_line("http", "complete", details)
    )
    connect = log_line("websocket", "connected", {"path": "/ws/requests/", "client": "c:1"})
    assert re.fullmatch(rf'c:1 - - \[{DATE}\] "WSCONNECT /ws/requests/" - -\n', connect)


def test_a_very_long_path_is_cut_in_the_log() -> None:
    # Up to the request-line limit (16 KB) per line otherwise: a client can fill the log.
    path = "/v1/" + "a" * 9000
    details = {"path": path, "status": 404, "method": "GET", "client": "c:1", "size": 10}

    line = log_line("http", "complete", details)

    shown = path[: tuning.LOGGED_PATH_CHARS]
    assert re.fullmatch(rf'c:1 - - \[{DATE}\] "GET {shown}\.\.\." 404 10\n', line)
