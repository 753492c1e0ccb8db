"""The `agents` command: list the agents, read and set the models they run on.

    manage.py agents list
    manage.py agents get-model [AGENT]
    manage.py agents set-model MODEL [--agent AGENT | --all]
    manage.py agents set-model --agent AGENT --clear

Without an agent, get-model and set-model read and write the default agent model
(ccflare's --get-model / --set-model).
"""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from agents import services
from agents.catalog import UnknownModel
from agents.registry import build
from analytics.operations.runtime import SetInEnvironment
from lib.escapes import printable


class Command(BaseCommand):
    help = "List Claude Code agents and choose the model each runs on (or the default)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(
            dest="action", required=True, metavar="{list,get-model,set-model}"
        )
        sub.add_parser("list", help="Every agent, where it comes from and its model.")
        get = sub.add_parser("get-model", help="The default agent model, or one agent's model.")
        get.add_argument("agent", nargs="?", help="An agent id (as `list` shows it).")
        put = sub.add_parser("set-model", help="Set the default agent model, or one agent's.")
        put.add_argument(
            "model", nargs="?", help="inherit, fable, opus, sonnet, haiku or a model id."
        )
        which = put.add_mutually_exclusive_group()
        which.add_argument("--agent", help="Only this agent (an id as `list` shows it).")
        which.add_argument("--all", action="store_true", help="Every agent known now.")
        put.add_argument("--clear", action="store_true", help="Back to the agent's own model.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            {"list": self.list, "get-model": self.get_model, "set-model": self.set_model}[
                options["action"]
            ](options)
        except (UnknownModel, services.AgentNotFound, SetInEnvironment) as error:
            message = str(error)
            if isinstance(error, SetInEnvironment):
                message = f"{message} is set in the environment, which wins; change it there"
            raise CommandError(printable(message)) from None

    def list(self, options: dict[str, Any]) -> None:
        snapshot = build()
        if not snapshot.agents:
            self.stdout.write("No agents found (AGENTS_DIR, workspaces, admin definitions).")
            return
        for agent in snapshot.agents:
            where = f"workspace {agent.workspace}" if agent.workspace else agent.source
            target = snapshot.targets.get(agent.id, "the request's own model")
            chosen = snapshot.chosen.get(agent.id, "")
            # An agent file (one in a cloned project's .claude/agents, say) writes these:
            # its ESC sequences must not reach the terminal.
            self.stdout.write(printable(f"{agent.id}  ({where})  model: {chosen} -> {target}"))

    def get_model(self, options: dict[str, Any]) -> None:
        snapshot = build()
        if options["agent"] is None:
            self.stdout.write(f"Current default agent model: {snapshot.default_model}")
            return
        agent = services.find(snapshot, options["agent"])
        target = snapshot.targets.get(agent.id, "the request's own model")
        self.stdout.write(printable(f"{agent.id}: {snapshot.chosen.get(agent.id, '')} -> {target}"))

    def set_model(self, options: dict[str, Any]) -> None:
        agent, model = options["agent"], options["model"]
        if options["clear"]:
            if agent is None:
                raise CommandError("--clear needs --agent")
            services.find(build(), agent)
            services.clear_preference(agent)
            self.stdout.write(f"{agent} is back on its own model")
            return
        if model is None:
            raise CommandError("Give a model: inherit, fable, opus, sonnet, haiku or a model id")
        if options["all"]:
            count = services.set_all(model)
            self.stdout.write(f"{count} agents now run on {services.validated(model)}")
        elif agent is not None:
            self.stdout.write(f"{agent} now runs on {services.set_preference(agent, model)}")
        else:
            self.stdout.write(f"Default agent model set to {services.set_default_model(model)}")
