"""`python -m ccflare_site.serve`: start daphne on the configured HOST and PORT.

With WORKERS=1 (the default) this process becomes daphne; with more, it stays as
the parent of WORKERS daphne processes sharing one socket (ccflare_site/workers.py).
"""

import os
import sys

# Set for the daphne processes this one starts, which then need not check again what
# it checked (ccflare_site/daphne_main.py).
CHECKED = "CCFLARE_START_CHECKED"


def main() -> None:
    if (refused := bad_setting() or cannot_serve()) is not None:
        sys.exit(f"ccflare: {refused}")
    os.environ[CHECKED] = "1"
    from django.conf import settings

    from ccflare_site.workers import claim_port

    # Before the banner: a port in use said "listening" and then failed.
    claim_port(settings.HOST, settings.PORT)
    address = f"http://{settings.HOST}:{settings.PORT}"
    workers = f" ({settings.WORKERS} workers)" if settings.WORKERS > 1 else ""
    print(f"ccflare listening on {address}{workers}", flush=True)
    print(f"  point clients at it: export ANTHROPIC_BASE_URL={address}")
    print(f"  dashboard: {address}/dashboard/")
    print(f"  admin: {address}/admin/", flush=True)
    if settings.WORKERS > 1:
        from ccflare_site import workers as supervisor

        sys.exit(
            supervisor.serve(
                count=settings.WORKERS,
                host=settings.HOST,
                port=settings.PORT,
                data_dir=settings.DATA_DIR,
                start_id=settings.START_ID,
            )
        )
    argv = [sys.executable, "-m", "ccflare_site.daphne_main", "-b", settings.HOST]
    argv += ["-p", str(settings.PORT)]
    os.execv(argv[0], [*argv, "ccflare_site.asgi:application"])


def bad_setting() -> str | None:
    """The one line that names a setting which cannot work, else None."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccflare_site.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.HOST  # noqa: B018 (reading it loads and checks every setting)
    except ImproperlyConfigured as error:
        return str(error)
    return None


def cannot_serve() -> str | None:
    """Why this server could never serve as configured, in one line, else None.

    Three causes, each of which made every request a 503 for as long as the server ran,
    its log filling with tracebacks: a SQLite database that can never be opened (not a
    database, its folder missing: lib/db_unusable.py), one whose migrations are not all
    applied (not set up yet, or an upgrade without `migrate`), and stored credentials
    this key cannot decrypt. A database that cannot be read now (PostgreSQL still
    starting, a SQLite file locked for a moment) says nothing here: the server starts,
    and reads it when it can.
    """
    import django
    from django.db import DatabaseError, connections

    django.setup()
    from accounts import lifecycle
    from lib import db_unusable

    missing = db_unusable.missing_sqlite_file()
    try:
        if (unmigrated := db_unusable.unmigrated()) is not None:
            if missing is not None:
                db_unusable.remove_if_empty(missing)  # what connecting made
            return unmigrated
        unreadable = lifecycle.unreadable_accounts()
    except DatabaseError as error:
        return db_unusable.said(error) if db_unusable.for_good(error) else None
    finally:
        connections.close_all()  # the workers' parent keeps no connection of its own
    if not unreadable:
        return None
    return (
        f"the stored credentials of {', '.join(unreadable)} cannot be decrypted: was "
        "ENCRYPTION_KEY (or SECRET_KEY, without one) changed since they were saved? Start "
        "with that key, or remove those accounts (manage.py remove_account NAME --force)"
    )


if __name__ == "__main__":
    main()
