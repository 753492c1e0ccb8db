"""`python -m ccflare_site.serve`: start daphne on the configured HOST and PORT."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccflare_site.settings")
    from django.conf import settings

    argv = [sys.executable, "-m", "ccflare_site.daphne_main", "-b", settings.HOST]
    argv += ["-p", str(settings.PORT)]
    print(f"ccflare listening on http://{settings.HOST}:{settings.PORT}", flush=True)
    print(
        f"  point clients at it: export ANTHROPIC_BASE_URL=http://{settings.HOST}:{settings.PORT}"
    )
    print(f"  dashboard: http://{settings.HOST}:{settings.PORT}/dashboard/")
    print(f"  admin: http://{settings.HOST}:{settings.PORT}/admin/", flush=True)
    os.execv(argv[0], [*argv, "ccflare_site.asgi:application"])


if __name__ == "__main__":
    main()
