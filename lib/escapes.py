"""Text that no console, log view or terminal acts on: control characters written as escapes.

For the log (analytics.operations.logs) and for what a command says back (a name typed
with an escape code in it recolours or rewrites the terminal it is echoed to).
"""

import re

# What a message must not carry raw, as clients choose paths and upstreams model names:
# line breaks (a forged line), other C0/C1 controls (a terminal acts on ESC sequences),
# Unicode's line separators and the bidirectional overrides (text shown reversed). Tab stays.
_UNPRINTABLE = re.compile(
    r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]"
)


def printable(text: str) -> str:
    """`text` with its control characters written as escapes (`\\n`, `\\x1b`, `\\u202e`):
    one line that no console, log view or terminal acts on."""
    if text.isascii() and text.isprintable():
        return text  # the common line: two scans in C, no regex
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")
