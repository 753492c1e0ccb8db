"""Settings for a test run: ccflare's own, read from a clean environment and a fresh data folder.

pytest loads this module (`--ds tests.settings` in pyproject.toml) before anything else
touches Django, which is the one moment early enough to decide what the settings see:

- every variable ccflare reads (all of `.env.example`, the `OAUTH_*` family) and the proxy
  variables httpx and the SDK would obey are removed from this process's environment, so a
  caller's `PORT=1` or `HTTP_PROXY` cannot change a test; `DATABASE_URL` stays, since that
  is how `.ci/run` chooses PostgreSQL;
- `.env` in the checkout is not read (CCFLARE_IGNORE_DOTENV);
- DATA_DIR is a new temporary folder (SQLite test database, logs, secret key), removed at
  exit, so a run never writes to ./data and two runs in one checkout never meet.

The servers that tests start get an explicit environment too (tests/servers.py).
"""

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
# Kept: the database the caller chose for the test run (CI's PostgreSQL pass).
_KEPT = frozenset({"DATABASE_URL"})
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
_SCRUBBED_PREFIXES = ("OAUTH_", "DJANGO_SUPERUSER_", "CCFLARE_")


def documented_settings() -> set[str]:
    """Every variable named in .env.example, commented-out ones included."""
    text = (_ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def is_scrubbed(name: str) -> bool:
    upper = name.upper()
    if upper in _KEPT:
        return False
    return upper in _SETTINGS or upper in _PROXY_VARIABLES or upper.startswith(_SCRUBBED_PREFIXES)


_SETTINGS = documented_settings()
for _name in [name for name in os.environ if is_scrubbed(name)]:
    del os.environ[_name]

_DATA_DIR = tempfile.mkdtemp(prefix="ccflare-tests-")
atexit.register(shutil.rmtree, _DATA_DIR, ignore_errors=True)
os.environ["DATA_DIR"] = _DATA_DIR
# Never the caller's own ~/.claude/agents: an empty folder of this run's.
os.environ["AGENTS_DIR"] = os.path.join(_DATA_DIR, "agents")
os.environ["CCFLARE_IGNORE_DOTENV"] = "1"

from ccflare_site.settings import *  # noqa: E402, F403
