"""Numbers read from JSON that others sent (the OAuth and usage endpoints)."""

import math
from typing import Any, TypeGuard


def finite_number(value: Any) -> TypeGuard[int | float]:
    """A finite int or float: JSON's true and false are not numbers here, nor an int too
    large for a float (10**400 is valid JSON; math and timedelta raise OverflowError)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
