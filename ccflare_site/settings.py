"""All configuration, read from the environment (and a `.env` file); see `.env.example`."""

import base64
import binascii
import contextlib
import importlib.util
import math
import os
import secrets
import stat
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The test run sets this: a developer's .env must not change what tests see.
if (BASE_DIR / ".env").exists() and not env.bool("CCFLARE_IGNORE_DOTENV", default=False):
    environ.Env.read_env(BASE_DIR / ".env")


def env_str(name: str, default: str) -> str:
    # Empty (`HOST=` in .env) means the default, as unset does: an empty HOST printed
    # `http://:8080` as the address to point clients at.
    # A value's own spaces are kept (a SECRET_KEY's are part of it).
    value = env.str(name, default="")
    return value if value.strip() else default


def env_bool(name: str, default: bool) -> bool:
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {raw!r}")


def _urlsafe_b64(text: str) -> bytes:
    """The bytes `text` encodes in url-safe base64; empty if it is none."""
    try:
        return base64.urlsafe_b64decode(text.encode())
    except (ValueError, binascii.Error):
        return b""


def env_url(name: str, default: str) -> str:
    """An absolute http(s) URL: anything else failed every request that used it."""
    value = env_str(name, default)
    if not _is_http_url(value):
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _scheme_of(url: str) -> str:
    """What a refusal says of a URL that may hold a password: its scheme alone."""
    scheme = urlsplit(url).scheme
    return f"one starting {scheme!r}:" if scheme else "one with no scheme"


def env_origins(name: str) -> list[str]:
    """Browser origins (`scheme://host[:port]`), compared as browsers send them: one without
    a scheme (`example.com`), or with a path, never matched and refused every request."""
    origins = [o.strip().rstrip("/") for o in env.list(name, default=[]) if o.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        if not _is_http_url(origin) or parts.path or parts.query or parts.fragment:
            raise ImproperlyConfigured(
                f"{name} must list origins as scheme://host[:port] "
                f"(e.g. https://app.example.com), got {origin!r}"
            )
    return origins


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = env.str(name, default="").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ImproperlyConfigured(f"{name} must be {_allowed(minimum, maximum)}, got {value}")
    return value


def _allowed(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"from {_shown(minimum)} to {_shown(maximum)}"
    return f"at least {_shown(minimum)}" if maximum is None else f"at most {_shown(maximum)}"


def _shown(bound: float | None) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def env_float(
    name: str,
    default: float,
    *,
    above: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    """A finite number, more than `above` (or at least `minimum`) and at most `maximum`."""
    raw = env.str(name, default="").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ImproperlyConfigured(f"{name} must be a finite number, got {raw!r}")
    too_low = (above is not None and not value > above) or (minimum is not None and value < minimum)
    if too_low or (maximum is not None and value > maximum):
        raise ImproperlyConfigured(f"{name} must be {_range(above, minimum, maximum)}, got {raw}")
    return value


def _range(above: float | None, minimum: float | None, maximum: float | None) -> str:
    if above is None:
        return _allowed(minimum, maximum)
    if maximum is None:
        return f"more than {_shown(above)}"
    return f"more than {_shown(above)} and at most {_shown(maximum)}"


# Core
# Everything this process creates is owner-only (directories 0700, files 0600):
# the database and its -wal/-shm, the logs and the secret key hold credentials
# and prompts. A umask covers the files SQLite and the log rotation create
# themselves, which no chmod of ours would reach in time.
os.umask(0o077)
# Empty means the default, as for every other setting: Path("") is the current folder,
# which the lines below would have made owner-only and filled with the server's files.
DATA_DIR = Path(env_str("DATA_DIR", "").strip() or BASE_DIR / "data").resolve()
STATIC_ROOT = DATA_DIR / "staticfiles"
try:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    STATIC_ROOT.mkdir(exist_ok=True)
except OSError as error:  # a file of that name, a read-only or forbidden parent
    raise ImproperlyConfigured(
        f"DATA_DIR {DATA_DIR} cannot be used as a folder: {error.strerror}"
    ) from None


def _make_owner_only(directory: Path) -> None:
    # A DATA_DIR made before the umask above (or by hand) may be readable by
    # others. Not ours to change, or a shared sticky directory such as /tmp:
    # leave it alone (the files in it are still 0600).
    mode = directory.stat().st_mode
    if mode & 0o077 and not mode & stat.S_ISVTX:
        with contextlib.suppress(OSError):  # not permitted, or a read-only file system
            directory.chmod(0o700)


_make_owner_only(DATA_DIR)


def _load_or_create_secret_key() -> str:
    # A generated key kept beside the data survives restarts, so sessions and
    # the encryption key derived from it stay valid without any set-up.
    path = DATA_DIR / "secret_key"
    key = secrets.token_urlsafe(50)
    try:
        # Created 0600 in one step (no moment readable by others), and only if
        # absent, so two processes starting at once cannot overwrite each other.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


SECRET_KEY = env_str("SECRET_KEY", "") or _load_or_create_secret_key()
# Fernet key for credentials at rest; derived from SECRET_KEY when unset.
ENCRYPTION_KEY = env_str("ENCRYPTION_KEY", "")
if ENCRYPTION_KEY and len(_urlsafe_b64(ENCRYPTION_KEY)) != 32:
    # Else the server started, and every read of an account failed with a traceback.
    raise ImproperlyConfigured(
        "ENCRYPTION_KEY must be 32 url-safe base64-encoded bytes (Fernet.generate_key()), "
        "or empty to derive one from SECRET_KEY"
    )
DEBUG = env_bool("DEBUG", False)
_hosts = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# `ALLOWED_HOSTS=,` named no host either: every answer was a 400.
ALLOWED_HOSTS = [host.strip() for host in _hosts if host.strip()]
if not ALLOWED_HOSTS and not DEBUG:
    # Else every answer, /health's too, was a 400 "Invalid Host header".
    raise ImproperlyConfigured("ALLOWED_HOSTS must name at least one host, e.g. 127.0.0.1")
# Browser pages from these origins (e.g. `https://app.example.com`) may call /v1/, with
# CORS answers; any other cross-site browser request is refused, so a web page the
# user happens to open cannot spend the pool. SDKs and Claude Code send no Origin.
CORS_ALLOWED_ORIGINS = env_origins("CORS_ALLOWED_ORIGINS")
# Behind a reverse proxy that terminates TLS the browser's Origin says https while this
# server sees http, and Django's CSRF check refuses every form, the admin login included,
# unless the public origin (e.g. `https://ccflare.example.com`) is listed here.
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS")
# Served only over https (behind such a proxy): the login's session and CSRF cookies are
# marked Secure, so a browser never sends them in plain HTTP (port 80 before a redirect).
# Off by default: on plain HTTP (a LAN address) a browser would drop them and no login
# could work.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8080, minimum=1, maximum=65535)
# Daphne processes serving HOST:PORT together (ccflare_site/workers.py); about one per core.
# At most 64: a million asked for ran the supervisor out of file descriptors mid-start.
WORKERS = env_int("WORKERS", 1, minimum=1, maximum=64)
# On SIGTERM a server stops accepting connections and lets the requests in flight finish
# for up to this long before it cancels the rest and exits (docs/deployment.md, upgrades).
SHUTDOWN_DRAIN_SECONDS = env_float("SHUTDOWN_DRAIN_SECONDS", 30.0, above=0, maximum=3600)

# Apps
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    # Locks out repeated wrong passwords on the admin (and dashboard) login.
    "axes",
    "access",
    "accounts",
    "analytics",
    "agents",
    "proxy",
    # Only so that `manage.py tui` exists: no models, talks to the server over HTTP.
    "tui",
]

# django-ninja's Swagger UI page and files, served from here so /api/docs loads nothing
# from a CDN (ccflare_site.api.LocalSwagger). Found without importing ninja, and
# ninja is not an installed app: a process that only proxies never loads it (12 MB).
_ninja_spec = importlib.util.find_spec("ninja")
assert _ninja_spec is not None and _ninja_spec.submodule_search_locations
NINJA_DIR = Path(_ninja_spec.submodule_search_locations[0])

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside CSRF and Common: their HTML refusals under /api/ become JSON too.
    "ccflare_site.middleware.api_json_errors",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ccflare_site.admin_selection.AdminSelectionCheck",
    "ccflare_site.admin_filters.AdminFilterCheck",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ccflare_site.csp.content_security_policy",
    # Last, as django-axes requires: it turns a lockout into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ccflare_site.urls"
ASGI_APPLICATION = "ccflare_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", NINJA_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite or PostgreSQL, the two the project is tested on.
_ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")
DATABASE_URL = env_str("DATABASE_URL", "") or f"sqlite:///{DATA_DIR / 'ccflare.db'}"
with warnings.catch_warnings():  # django-environ's for an unknown scheme prints the URL
    warnings.simplefilter("ignore")
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"].get("ENGINE") not in _ENGINES:
    # Only the scheme: the rest may hold a password.
    raise ImproperlyConfigured(
        "DATABASE_URL must be sqlite:///PATH or postgres://USER:PASSWORD@HOST/NAME, "
        f"got {_scheme_of(DATABASE_URL)}"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dashboard read while the recorder writes; the busy timeout
    # rides out the short write locks of the batched recorder. Temporary storage in
    # files: a report's GROUP BY sorts every row in its range, and in memory
    # (temp_store=MEMORY) that sort had no bound (11 MB for 90,000 rows, per report at
    # once), which the server's heap then kept; in a file, SQLite sorts within its page
    # cache and spills the rest. The recorder's connection alone keeps them in memory
    # (write_behind.tune_recorder_connection). The WAL file is cut back to 64 MB when it next starts
    # over: a VACUUM or a big cleanup under traffic (when the truncating checkpoint
    # cannot run) left it as large as the database for good.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=FILE;"
            " PRAGMA journal_size_limit=67108864;"
        ),
        "timeout": 5,
        "transaction_mode": "IMMEDIATE",
    }
    # A file, not memory: end-to-end tests run a real daphne on the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    # A server that cannot be reached fails a connection in seconds, not after the TCP
    # timeout (minutes). A connection the network lost without a reset (a partition, a
    # host gone) fails within a minute or so instead of about 15 (the kernel's retries),
    # while the threads that keep one (recorder, account pool, client keys) waited on it:
    # TCP keepalives while it waits for an answer, and a bound on data left unacknowledged.
    # The same names in DATABASE_URL's query string win.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    for _name, _value in {
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": 60_000,  # milliseconds
    }.items():
        _options.setdefault(_name, _value)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords in a
# row for one username from one address, that pair gets 429 for
# LOGIN_COOLOFF_SECONDS (each further try restarts the wait); a right password
# before the limit resets the count. Keyed by both, so a guesser can neither lock
# the owner out from elsewhere nor spread guesses over many usernames unnoticed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
# At most a day: a timedelta of 10^20 seconds was an OverflowError at start.
LOGIN_COOLOFF_SECONDS = env_int("LOGIN_COOLOFF_SECONDS", 900, minimum=1, maximum=86_400)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_COOLOFF_SECONDS)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Failures are kept (the lockout needs them); a row per successful login is not.
AXES_DISABLE_ACCESS_LOG = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"  # STATIC_ROOT is made with DATA_DIR, above
STATICFILES_DIRS = [BASE_DIR / "static", NINJA_DIR / "static"]
# Serve static files (dashboard, admin) straight from their source folders too, so a
# bare `daphne ...` after `migrate` (README, Configuration) works without collectstatic.
WHITENOISE_USE_FINDERS = True

# Channels: one daphne process shares events in memory; the WORKERS of one server
# share them through their parent's hub (lib/live_hub.py, which sets CCFLARE_LIVE_HUB
# for them); set REDIS_URL to share them between servers on several hosts.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL and urlsplit(REDIS_URL).scheme not in ("redis", "rediss", "unix"):
    # Else the server started and logged a traceback for every event it published. Only
    # the scheme is said: the rest may hold a password.
    raise ImproperlyConfigured(
        "REDIS_URL must be redis://HOST:PORT/DB, rediss://... or unix://PATH, "
        f"got {_scheme_of(REDIS_URL)}"
    )
LIVE_HUB = env_str("CCFLARE_LIVE_HUB", "")
# This server start: new each time the server starts, the same in all WORKERS of one (their
# parent sets CCFLARE_START_ID for them: a reconnect may land on another worker whose
# requests still run). Live clients are told it when they connect, so one that reconnects
# to another start drops the requests it saw begin and not end: they died with the old
# server, unrecorded (analytics/live/consumers.py, streams.py).
START_ID = env_str("CCFLARE_START_ID", "") or secrets.token_hex(8)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
elif LIVE_HUB:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "lib.live_hub.HubChannelLayer", "CONFIG": {"hub_path": LIVE_HUB}}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Upstream
UPSTREAM_BASE_URL = env_url("UPSTREAM_BASE_URL", "https://api.anthropic.com").rstrip("/")
# Seconds to wait for the upstream to connect and to send response headers.
# Generous: a long non-streaming completion sends its headers only at the end.
# Timeouts past their maxima (an hour, a day for a long answer) are no timeouts at all,
# and the event loop's timers refuse the largest.
UPSTREAM_CONNECT_TIMEOUT_SECONDS = env_float(
    "UPSTREAM_CONNECT_TIMEOUT_SECONDS", 10.0, above=0, maximum=3600
)
UPSTREAM_READ_TIMEOUT_SECONDS = env_float(
    "UPSTREAM_READ_TIMEOUT_SECONDS", 600.0, above=0, maximum=86_400
)
OAUTH_TOKEN_URL = env_url("OAUTH_TOKEN_URL", "https://platform.claude.com/v1/oauth/token")
OAUTH_AUTHORIZE_URL_MAX = env_url(
    "OAUTH_AUTHORIZE_URL_MAX", "https://claude.com/cai/oauth/authorize"
)
OAUTH_AUTHORIZE_URL_CONSOLE = env_url(
    "OAUTH_AUTHORIZE_URL_CONSOLE", "https://platform.claude.com/oauth/authorize"
)
OAUTH_REDIRECT_URI = env_url(
    "OAUTH_REDIRECT_URI", "https://platform.claude.com/oauth/code/callback"
)
OAUTH_CREATE_API_KEY_URL = env_url(
    "OAUTH_CREATE_API_KEY_URL", "https://api.anthropic.com/api/oauth/claude_cli/create_api_key"
)
CLIENT_ID = env_str("CLIENT_ID", "9d1c250a-e61b-44d9-88ed-5944d1962f5e")
# What Claude Code's usage view reads: an OAuth account's 5-hour, 7-day and per-model
# windows, spending no inference (docs/routing.md, usage polling). A setting for the tests' fake.
OAUTH_USAGE_URL = env_url("OAUTH_USAGE_URL", "https://api.anthropic.com/api/oauth/usage")

# Server
# A client must send a request's headers within HEADER_TIMEOUT_SECONDS of its
# first byte, and then its body within BODY_TIMEOUT_SECONDS, or it gets a 408
# and the connection closes: a client trickling bytes would otherwise hold a
# socket for ever (Twisted only times out a connection that is wholly idle).
# The response, which may stream for many minutes, has no deadline. The body's
# allows a 32 MB request over a ~2 Mbit/s uplink.
HEADER_TIMEOUT_SECONDS = env_float("HEADER_TIMEOUT_SECONDS", 20.0, above=0, maximum=3600)
BODY_TIMEOUT_SECONDS = env_float("BODY_TIMEOUT_SECONDS", 120.0, above=0, maximum=3600)
# The dashboard, the admin and /api/ must start their answer within this, or the client
# gets a 503 saying the database did not answer (ccflare_site/answer_deadline.py).
ANSWER_TIMEOUT_SECONDS = env_float("ANSWER_TIMEOUT_SECONDS", 30.0, above=0, maximum=3600)

# Proxy behaviour
# A sticky session keeps one conversation on one account: fast switching
# between accounts trips Anthropic's anti-abuse systems.
SESSION_DURATION_MS = env_int(
    "SESSION_DURATION_MS",
    18_000_000,
    minimum=1,
    maximum=30 * 24 * 3600 * 1000,  # 30 days
)
# 529/5xx answers are retried on the same account with exponential backoff. A request's
# delays stop at 10 s in all (proxy/attempts.py), which bounds the first delay; a factor
# past 10 overflowed a float within a few retries.
RETRY_ATTEMPTS = env_int("RETRY_ATTEMPTS", 3, minimum=0, maximum=20)
RETRY_DELAY_MS = env_int("RETRY_DELAY_MS", 1000, minimum=0, maximum=10_000)
RETRY_BACKOFF = env_float("RETRY_BACKOFF", 2.0, above=0, maximum=10)
# The Messages API's own request limit; larger bodies get a 413 and nothing
# is forwarded.
MAX_BODY_MB = env_int("MAX_BODY_MB", 32, minimum=1, maximum=1024)
# The request bodies over 1 MB one server process holds at once, in all: a request gets a
# 503 when its body's bytes, counted as they arrive, would pass it (ccflare_site/body_budget.py).
MAX_BODIES_MB = env_int("MAX_BODIES_MB", 256, minimum=1, maximum=1024 * 1024)
# Each captured request/response body is cut at this size (flagged truncated)
# so a long conversation cannot bloat the database.
PAYLOAD_CAPTURE_MAX_KB = env_int("PAYLOAD_CAPTURE_MAX_KB", 256, minimum=0, maximum=1024 * 1024)
# The proxy reads accounts from an in-process snapshot refreshed this often,
# so no request waits on the database to pick an account. 0: re-read for each request;
# at most an hour, else an account added by a command might never be seen.
ACCOUNT_CACHE_SECONDS = env_float("ACCOUNT_CACHE_SECONDS", 1.0, minimum=0, maximum=3600)
# Recorded requests are written in batches this often, off the response path. At most a
# minute: at low traffic a request stays unrecorded (and off the dashboard) until then.
RECORDER_FLUSH_MS = env_int("RECORDER_FLUSH_MS", 100, minimum=1, maximum=60_000)
# Prices change rarely: the recorder re-reads the table at most this often
# (an edit in this process's admin applies at once).
PRICE_CACHE_SECONDS = env_float("PRICE_CACHE_SECONDS", 10.0, minimum=0, maximum=3600)
# Fallback wait when a 429 carries no reset header.
RATE_LIMIT_FALLBACK_SECONDS = env_int("RATE_LIMIT_FALLBACK_SECONDS", 60, minimum=1, maximum=86_400)
# Refresh an OAuth token this many seconds before it expires, so a long
# streaming request never starts with a token that dies mid-stream.
# At most an hour: past a token's life (hours) every request would refresh it.
TOKEN_REFRESH_MARGIN_SECONDS = env_int("TOKEN_REFRESH_MARGIN_SECONDS", 300, minimum=0, maximum=3600)
# After upstream errors (network, 5xx after retries, failed token refresh) an
# account sits out this long, doubling with each error in a row up to the cap,
# so a sick account is retried soon but not hammered.
COOLDOWN_BASE_SECONDS = env_int("COOLDOWN_BASE_SECONDS", 10, minimum=1, maximum=86_400)
COOLDOWN_MAX_SECONDS = env_int("COOLDOWN_MAX_SECONDS", 600, minimum=1, maximum=86_400)
# Poll each OAuth account's usage this often (seconds), so an idle account shows its
# windows before a request finds them full; 0 turns polling off (on demand still works).
USAGE_POLL_SECONDS = env_int("USAGE_POLL_SECONDS", 300, minimum=0, maximum=86_400)
# A key or long-lived token a 401 refused is asked about again (GET /v1/models) this many
# seconds later, then twice as long after each refusal up to an hour (accounts.recheck);
# 0 turns it off.
CREDENTIAL_RECHECK_SECONDS = env_int("CREDENTIAL_RECHECK_SECONDS", 60, minimum=0, maximum=3600)

# Maintenance
# Days payloads and request rows are kept, within ccflare's ranges (analytics.operations.
# runtime.RETENTION): a value outside was brought within it unsaid, so 1000 days kept 365.
DATA_RETENTION_DAYS = env_int("DATA_RETENTION_DAYS", 7, minimum=1, maximum=365)
REQUEST_RETENTION_DAYS = env_int("REQUEST_RETENTION_DAYS", 365, minimum=1, maximum=3650)
# The retention days can also change at run time (API, kept in the database);
# a value set in the environment wins over those, so remember which ones it set.
RUNTIME_SETTINGS_FROM_ENV = frozenset(
    name
    for name in ("DATA_RETENTION_DAYS", "REQUEST_RETENTION_DAYS", "DEFAULT_AGENT_MODEL")
    if env.str(name, default="").strip()
)
# Retention cleanup runs this often while the server runs (and once soon after start).
CLEANUP_INTERVAL_SECONDS = env_int("CLEANUP_INTERVAL_SECONDS", 3600, minimum=1, maximum=86_400)

# Agents (README, "Agents"): Claude Code sub-agents whose requests get the model chosen for them
# Global agent files (`*.md` with front matter); each workspace's `.claude/agents/` is read too.
AGENTS_DIR = Path(env_str("AGENTS_DIR", "") or Path.home() / ".claude" / "agents").expanduser()
# Agent files and preferences are re-read this often (seconds); a change made through the
# API or admin applies at once in this process.
AGENTS_CACHE_SECONDS = env_int("AGENTS_CACHE_SECONDS", 30, minimum=0, maximum=3600)
# The model of an agent whose file names none: `inherit` (leave the request's model alone),
# a shorthand (fable, opus, sonnet, haiku) or a model id of the price table. Also settable
# at run time (API, dashboard, `manage.py agents set-model`); set here, it wins.
DEFAULT_AGENT_MODEL = env_str("DEFAULT_AGENT_MODEL", "inherit").strip() or "inherit"

# HTTP API
# Live streams (/api/requests/stream, /api/logs/stream) send a comment this often
# so proxies and clients do not drop an idle connection.
SSE_HEARTBEAT_SECONDS = env_float("SSE_HEARTBEAT_SECONDS", 15.0, above=0, maximum=3600)

# Notifications
# Where to POST a JSON notice when an account needs re-auth, no account can serve a
# request, or a 5-hour/7-day window passes 90% (Slack-style incoming webhooks show its
# "text"); empty turns notifications off.
NOTIFY_WEBHOOK_URL = env_str("NOTIFY_WEBHOOK_URL", "").strip()
if NOTIFY_WEBHOOK_URL and not _is_http_url(NOTIFY_WEBHOOK_URL):
    # Caught at start rather than as a warning on every notice nobody receives. Not
    # shown: a webhook's path is often its secret.
    raise ImproperlyConfigured("NOTIFY_WEBHOOK_URL must be an http:// or https:// URL")
# The same notice (event and account) is not sent again within this many seconds, so an
# empty pool under steady traffic sends one message, not one per request.
NOTIFY_REPEAT_SECONDS = env_int("NOTIFY_REPEAT_SECONDS", 3600, minimum=0, maximum=7 * 86_400)

# The event loop daphne runs on (ccflare_site/daphne_main.py): `uvloop` (a C loop, faster;
# docs/performance.md) or `asyncio` (the standard library's).
EVENT_LOOP = env_str("EVENT_LOOP", "uvloop").lower()
if EVENT_LOOP not in {"uvloop", "asyncio"}:
    raise ImproperlyConfigured(f"EVENT_LOOP must be uvloop or asyncio, got {EVENT_LOOP!r}")

# Logging
# DEBUG works (ccflare's did not); WARN is accepted as ccflare spelled it.
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_LEVEL = "WARNING" if LOG_LEVEL == "WARN" else LOG_LEVEL
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {LOG_LEVEL!r}"
    )
# One INFO line per proxied request (account, model, status, tokens, cost, duration),
# written by the recorder off the response path.
LOG_REQUESTS = env_bool("LOG_REQUESTS", True)
# Console output: `pretty` for people, `json` for log collectors.
LOG_FORMAT = env_str("LOG_FORMAT", "pretty").lower()
if LOG_FORMAT not in {"pretty", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be pretty or json, got {LOG_FORMAT!r}")
# The file always gets one JSON line per event (what /api/logs/history and
# `manage.py logs` read); it rotates at LOG_FILE_MAX_MB, keeping LOG_FILE_BACKUPS old files.
LOG_FILE = DATA_DIR / "logs" / "ccflare.log"
LOG_FILE.parent.mkdir(exist_ok=True)
# At most 100 old files: each rotation looks for every one of them under the log's lock,
# and 10^8 of them froze the whole server at its first rotation.
LOG_FILE_MAX_MB = env_int("LOG_FILE_MAX_MB", 10, minimum=1, maximum=1024)
LOG_FILE_BACKUPS = env_int("LOG_FILE_BACKUPS", 5, minimum=0, maximum=100)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "analytics.operations.logs.RedactingFilter"},
        "no_traceback": {"()": "analytics.operations.logs.WithoutTraceback"},
    },
    "formatters": {
        "pretty": {"()": "analytics.operations.logs.PrettyFormatter"},
        "json": {"()": "analytics.operations.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "analytics.operations.logs.ConsoleHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact"],
        },
        "file": {
            "class": "analytics.operations.logs.LogFileHandler",
            "filename": str(LOG_FILE),
            "maxBytes": LOG_FILE_MAX_MB * 1024 * 1024,
            "backupCount": LOG_FILE_BACKUPS,
            "encoding": "utf-8",
            "delay": True,
            "formatter": "json",
            "filters": ["redact"],
        },
        # Feeds /api/logs/stream through the channel layer, without blocking.
        "live": {"class": "analytics.operations.logs.ChannelsHandler", "filters": ["redact"]},
    },
    "root": {"handlers": ["console", "file", "live"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": "WARNING" if LOG_LEVEL != "DEBUG" else "INFO"},
        "daphne": {"level": "WARNING"},
        # A bad Host header is one short WARNING line, not an ERROR with Django's traceback.
        "django.security.DisallowedHost": {"filters": ["no_traceback"]},
        # So is a body or form over Django's limits (a 413 or 400 to the client).
        "django.security.RequestDataTooBig": {"filters": ["no_traceback"]},
        "django.security.TooManyFieldsSent": {"filters": ["no_traceback"]},
        "django.security.TooManyFilesSent": {"filters": ["no_traceback"]},
        # Its start-up banner on every command is noise; failures and lockouts are warnings.
        "axes": {"level": "WARNING"},
        # So is autobahn's line at each daphne start saying AUTOBAHN_USE_NVX=0 is honoured.
        "autobahn": {"level": "WARNING"},
        # One INFO line per OAuth call (URL only) is noise, not news.
        "httpx": {"level": "WARNING" if LOG_LEVEL != "DEBUG" else "DEBUG"},
    },
}
