"""The proxy's check of client keys: an in-process set of key hashes, no query per request.

Once a client key exists, every /v1/ request must carry a live one, as `x-api-key`
or `Authorization: Bearer`. Revoked keys keep that so: revoking the last key (a leaked
one) must close the proxy, not open it to everyone; deleting every key opens it again.
The set is reloaded when older than ACCOUNT_CACHE_SECONDS (like the account pool), so a
new or revoked key takes effect within that time in every process.
"""

import asyncio
import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from access.models import ClientKey
from access.policy import KeyPolicy, load_policies
from lib import db_away
from lib.hot_settings import hot
from lib.reloading import Reloader

logger = logging.getLogger(__name__)

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="client-keys")


@dataclass(frozen=True, slots=True)
class Grant:
    """Why a request may pass: which key sent it and which header to keep from upstream."""

    key_id: int | None = None
    strip: frozenset[str] = frozenset()
    # The key's budgets and model rules, when it has any (checked by proxy.keypolicy).
    policy: KeyPolicy | None = None


OPEN = Grant()


class ClientKeyCache:
    def __init__(self) -> None:
        self._keys: dict[str, int] = {}
        self._policies: dict[int, KeyPolicy] = {}
        self._required = False  # some key exists, live or revoked
        # Shared by concurrent requests. A failed reload keeps the last set: failing open
        # would let anyone in during an outage.
        self._reloader = Reloader(
            self._do_reload,
            max_age=lambda: hot.ACCOUNT_CACHE_SECONDS,
            logger=logger,
            name="access.client_keys_reload",
        )

    async def authorize(self, headers: list[tuple[bytes, bytes]]) -> Grant | None:
        """The grant for a request with these headers, or None when it must get a 401."""
        await self._reloader.fresh()
        if not self._reloader.loaded:
            # Never read (a worker started while the database is away): whether keys are
            # required is not known, and an empty set would let everyone in.
            return None
        if not self._required:
            return OPEN
        grant = match(headers, self._keys)
        if grant is not None and grant.key_id in self._policies:
            return replace(grant, policy=self._policies[grant.key_id])
        return grant

    @property
    def read(self) -> bool:
        """Whether the keys were read yet (authorize lets no request in before)."""
        return self._reloader.loaded

    def invalidate(self) -> None:
        self._reloader.invalidate()

    async def _do_reload(self) -> None:
        loop = asyncio.get_running_loop()
        self._keys, self._policies, self._required = await loop.run_in_executor(_executor, _load)


def match(headers: list[tuple[bytes, bytes]], keys: dict[str, int]) -> Grant | None:
    """The grant of the first credential header whose value is a known key.

    It strips every credential header that carries a known key: with no accounts the
    client's own credentials go upstream, and a key sent in both headers went with them.
    """
    key_id: int | None = None
    strip: set[str] = set()
    for raw_name, raw_value in headers:
        name = raw_name.lower()
        if name == b"x-api-key":
            secret = raw_value
        elif name == b"authorization" and raw_value[:7].lower() == b"bearer ":
            secret = raw_value[7:].strip()
        else:
            continue
        found = keys.get(hashlib.sha256(secret).hexdigest())
        if found is not None:
            key_id = found if key_id is None else key_id
            strip.add(name.decode())
    return None if key_id is None else Grant(key_id=key_id, strip=frozenset(strip))


def _load() -> tuple[dict[str, int], dict[int, KeyPolicy], bool]:
    # This thread keeps its connection between loads; after a failure, lib.db_away says
    # whether it can serve the next one (closing a SQLite one each time leaked a file).
    try:
        # A connection a PostgreSQL restart closed is replaced first (else this load
        # fails on it and the old keys are used until the next).
        db_away.check_connection()
        keys = dict(ClientKey.objects.filter(revoked_at=None).values_list("secret_hash", "pk"))
        required = bool(keys) or ClientKey.objects.exists()
        return keys, (load_policies() if keys else {}), required
    except Exception as error:
        db_away.after_failure(error)
        raise


cache = ClientKeyCache()
