"""The `client_keys` command: list client keys with their usage; set budgets and model rules.

manage.py client_keys                               # keys, usage, budgets, rules
manage.py client_keys budget alice requests 1h 100  # add or change a budget
manage.py client_keys budget alice pool_share 5h 25 # at most 25% of the pool's 5h window
manage.py client_keys unbudget alice requests 1h
manage.py client_keys models ci --deny opus         # or --allow haiku,sonnet; none: clear
"""

import json
from argparse import ArgumentParser
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from access import keyrules
from access.credentials import AccessError
from access.models import KeyBudget
from analytics.models import Request
from analytics.reporting import key_report
from analytics.schemas import split_list
from lib import escapes


class Command(BaseCommand):
    help = "List client keys with their usage, or set a key's budgets and model rules."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action")
        listing = sub.add_parser("list", help="Keys with usage, budgets and rules (the default).")
        listing.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
        budget = sub.add_parser("budget", help="Add a budget or change its limit.")
        unbudget = sub.add_parser("unbudget", help="Remove a budget.")
        for each in (budget, unbudget):
            each.add_argument("name")
            each.add_argument("metric", choices=KeyBudget.Metric.values)
            each.add_argument("window", choices=KeyBudget.Window.values)
        budget.add_argument("limit", help="Requests, tokens, USD, or a percentage (pool_share).")
        models = sub.add_parser("models", help="Set the model families a key may (not) use.")
        models.add_argument("name")
        models.add_argument("--allow", default="", help="Comma-separated families, e.g. haiku.")
        models.add_argument("--deny", default="", help="Comma-separated families, e.g. opus.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options.get("action") or "list"
        try:
            if action == "list":
                self._list(as_json=options.get("json", False))
                return
            key = keyrules.live_key(options["name"])
            if action == "budget":
                keyrules.set_budget(key=key, metric=options["metric"],
                                    window=options["window"], limit=options["limit"])  # fmt: skip
            elif action == "unbudget":
                keyrules.remove_budget(key=key, metric=options["metric"], window=options["window"])
            else:
                allowed, denied = split_list(options["allow"]), split_list(options["deny"])
                keyrules.set_model_rules(key=key, allowed=allowed, denied=denied)
        except AccessError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stdout.write(f"Client key '{key.name}' updated (takes effect within seconds)")

    def _list(self, *, as_json: bool) -> None:
        keys = key_report.keys_with_budgets()
        usage = {
            item["keyId"]: item
            for item in key_report.breakdown(Request.objects.all(), whole_history=True)
        }
        for key in keys:
            key["usage"] = usage.get(key["id"])
        if as_json:
            self.stdout.write(json.dumps(keys, indent=2))
            return
        if not keys:
            self.stdout.write("No client keys: /v1/ is open (manage.py create_client_key NAME)")
        for key in keys:
            self.stdout.write(_describe(key))


def _describe(key: dict) -> str:
    usage = key["usage"] or {"requests": 0, "tokens": 0, "costUsd": 0.0, "lastUsed": None}
    lines = [
        f"{key['name']} ({key['display']}): {usage['requests']} requests, "
        f"{usage['tokens']} tokens, ${usage['costUsd']:.4f}, "
        f"last used {_when(usage['lastUsed'])}, {key['poolShare5h']}% of the pool's 5h window"
    ]
    for budget in key["budgets"]:
        lines.append(f"  budget: {budget['description']} (used {budget['used']:g})")
    if key["allowedModels"]:
        lines.append(f"  may only use: {', '.join(key['allowedModels'])}")
    if key["deniedModels"]:
        lines.append(f"  may not use: {', '.join(key['deniedModels'])}")
    return "\n".join(lines)


def _when(iso: str | None) -> str:
    if iso is None:
        return "never"
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
