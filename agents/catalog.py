"""Which models an agent can be put on: the price table's model ids and four shorthands.

The shorthands follow the price table, not a list written into the code: `opus` is the
newest `claude-opus-<version>` id it holds, so adding a price row for a new model moves
the shorthand with it. `inherit` leaves the request's own model alone.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from analytics.models import ModelPrice

INHERIT = "inherit"
SHORTHANDS = ("fable", "opus", "sonnet", "haiku")
# claude-<family>-<major>[-<minor>...]; a dated snapshot id (8 digits) is not a version.
_VERSIONED = re.compile(r"^claude-([a-z]+)-(\d{1,3}(?:-\d{1,3})*)$")
_DATED_SUFFIX = re.compile(r"-\d{8}$")


class UnknownModel(ValueError):
    """The choice is neither `inherit`, a shorthand of a priced family, nor a priced model id."""


@dataclass(frozen=True)
class Catalog:
    model_ids: tuple[str, ...]
    # shorthand -> the newest model id of that family in the price table
    current: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, model_ids: Iterable[str]) -> "Catalog":
        ids = tuple(sorted(set(model_ids)))
        newest: dict[str, tuple[tuple[int, ...], str]] = {}
        for model in ids:
            match = _VERSIONED.match(model)
            if match is None or match.group(1) not in SHORTHANDS:
                continue
            version = tuple(int(part) for part in match.group(2).split("-"))
            if match.group(1) not in newest or version > newest[match.group(1)][0]:
                newest[match.group(1)] = (version, model)
        return cls(ids, {family: model for family, (_, model) in newest.items()})

    def resolve(self, choice: str) -> str | None:
        """The model id `choice` stands for, None for inherit; raises UnknownModel."""
        choice = choice.strip()
        if choice.lower() == INHERIT:
            return None
        if choice.lower() in self.current:
            return self.current[choice.lower()]
        if choice in self.model_ids or _DATED_SUFFIX.sub("", choice) in self.model_ids:
            return choice
        raise UnknownModel(
            f"Unknown model {choice[:100]!r}: use inherit, one of "
            f"{', '.join(s for s in SHORTHANDS if s in self.current) or '(no shorthand priced)'}"
            f" or a model id of the price table"
        )

    def choices(self) -> list[dict[str, str]]:
        """What a model select offers: inherit, the shorthands with their ids, every id."""
        options = [{"value": INHERIT, "label": "inherit (the request's own model)"}]
        options += [
            {"value": short, "label": f"{short} ({self.current[short]})"}
            for short in SHORTHANDS
            if short in self.current
        ]
        return options + [{"value": model, "label": model} for model in self.model_ids]


def load() -> Catalog:
    """The catalog of the price table as stored now (a query: not for the event loop)."""
    return Catalog.of(ModelPrice.objects.values_list("model", flat=True).distinct())
