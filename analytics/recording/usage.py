"""One request's token usage: the immutable value the proxy hands over and the recorder stores.

The proxy's tracker (proxy/usage.py) folds a response into running counts and hands
over a `Usage` when the request ends; the recorded row takes its columns from it in
one place (`columns`), so no field is copied by hand along the way.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    model: str | None = None
    input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0  # both lifetimes
    cache_creation_5m_tokens: int = 0
    cache_creation_1h_tokens: int = 0
    output_tokens: int = 0
    output_tokens_per_second: float | None = None

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    def columns(self) -> dict[str, Any]:
        """The Request columns this usage fills."""
        return {
            "model": self.model,
            "input_tokens": self.input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_creation_5m_tokens": self.cache_creation_5m_tokens,
            "cache_creation_1h_tokens": self.cache_creation_1h_tokens,
            "output_tokens": self.output_tokens,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "output_tokens_per_second": self.output_tokens_per_second,
        }


NO_USAGE = Usage()
