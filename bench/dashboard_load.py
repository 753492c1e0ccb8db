"""Dashboard page-load times with many recorded requests (default 10,000), on this machine.

    .venv/bin/python bench/dashboard_load.py [--requests 10000] [--runs 7]

1. A fresh SQLite database in a temporary DATA_DIR, migrated, with a staff login, the
   seeded pool and `--requests` requests (tests/dashboard/seed.py, bulk-created).
2. A real daphne on it (tests/servers.py).
3. Server time: each page fetched `--runs` times with the staff session (httpx, after one
   warm-up), time to the full response.
4. Browser load: each page opened `--runs` times in Debian's headless Chromium (after one
   warm-up): navigation start to the load event, and to the page showing its data
   (a selector that only appears once charts/rows are drawn).
Prints medians (and p90 for the server); writes nothing to the repository.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import servers  # noqa: E402  (needs the project root on the path)

PAGES = [
    # name, path, selector that means "the data is on screen"
    ("overview", "/dashboard/", "#chart-volume[height]"),
    ("analytics", "/dashboard/analytics/", "[data-model-table] td.mono"),
    ("requests", "/dashboard/requests/", "[data-rows] tr"),
    ("request detail", "/dashboard/requests/{detail}/", ".request-detail"),
    ("accounts", "/dashboard/accounts/", ".account-card"),
    ("logs", "/dashboard/logs/", "[data-log-count]:not(:empty)"),
]
API_CALLS = [
    "/api/analytics?range=24h",
    "/api/analytics?range=30d",
    "/api/analytics?range=30d&modelBreakdown=true",
    "/api/requests?limit=200",
    "/api/accounts",
]


def prepare(data_dir: Path, count: int) -> tuple[str, str]:
    """Migrate and seed; returns (session cookie value, id of a request with a payload)."""
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccflare_site.settings")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        check=True,
        env=os.environ,
    )
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client

    from analytics.models import Request
    from tests.dashboard import seed

    started = time.perf_counter()
    seed.seed_requests(count, accounts=seed.seed_accounts(), payloads=200)
    print(f"seeded {Request.objects.count()} requests in {time.perf_counter() - started:.1f} s")
    client = Client()
    client.force_login(User.objects.create_user("bench", password="x", is_staff=True))
    detail = Request.objects.filter(payload__isnull=False).order_by("-timestamp").first()
    return client.cookies["sessionid"].value, str(detail.pk)


def server_times(base: str, cookie: str, paths: list[str], runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    with httpx.Client(base_url=base, cookies={"sessionid": cookie}, timeout=30) as http:
        for path in paths:
            http.get(path).raise_for_status()  # warm-up
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                http.get(path).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            times[path] = samples
    return times


def browser_times(base: str, cookie: str, pages: list[tuple], runs: int) -> dict[str, dict]:
    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(servers.CHROMIUM), args=servers.CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1440, "height": 960})
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
        page = context.new_page()
        for name, path, ready in pages:
            load, shown = [], []
            for run in range(runs + 1):
                started = time.perf_counter()
                page.goto(base + path, wait_until="load")
                page.wait_for_selector(ready, state="attached")
                elapsed = (time.perf_counter() - started) * 1000
                timing = page.evaluate(
                    "(() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return n.loadEventEnd - n.startTime; })()"
                )
                if run:  # the first run warms the cache and the server
                    load.append(timing)
                    shown.append(elapsed)
            results[name] = {"load": load, "shown": shown}
        browser.close()
    return results


def p90(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.9) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ccflare-dashboard-bench-") as tmp:
        data_dir = Path(tmp)
        cookie, detail = prepare(data_dir, args.requests)

        pages = [(n, p.format(detail=detail), s) for n, p, s in PAGES]
        log = (data_dir / "server.log").open("wb")
        process, port = servers.start_proxy_server(env={"DATA_DIR": str(data_dir)}, output=log)
        base = f"http://127.0.0.1:{port}"
        try:
            served = server_times(base, cookie, [p for _, p, _ in pages] + API_CALLS, args.runs)
            shown = browser_times(base, cookie, pages, args.runs)
        finally:
            servers.stop(process)
            log.close()

    print(f"\n{args.requests} requests, {args.runs} runs each, medians (ms)\n")
    print(f"{'page':<16}{'server':>9}{'server p90':>12}{'browser load':>14}{'data shown':>12}")
    for name, path, _ in pages:
        s = served[path]
        b = shown[name]
        print(
            f"{name:<16}{statistics.median(s):>9.0f}{p90(s):>12.0f}"
            f"{statistics.median(b['load']):>14.0f}{statistics.median(b['shown']):>12.0f}"
        )
    print("\nAPI calls the pages make on changes (server, median / p90 ms)")
    for path in API_CALLS:
        print(f"  {path:<48}{statistics.median(served[path]):>7.0f}{p90(served[path]):>7.0f}")


if __name__ == "__main__":
    main()
