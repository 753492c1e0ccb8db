"""The time ranges of /api/analytics, shared by the Overview and Analytics screens."""

RANGES = ("1h", "6h", "24h", "7d", "30d")


def next_range(current: str) -> str:
    return RANGES[(RANGES.index(current) + 1) % len(RANGES)]
