"""The time ranges of /api/analytics, shared by the Overview and Analytics screens."""

RANGES = ("1h", "6h", "24h", "7d", "30d")


def next_range(current: str) -> str:
    return RANGES[(RANGES.index(current) + 1) % len(RANGES)]


class RangedView:
    """A screen over one of RANGES, cycled with `r`; its data is re-read once marked stale.

    Mixed into the Overview and Analytics views, which say how to re-read in
    `refresh_if_stale` (the requests stream marks them stale as requests finish).
    """

    range = "24h"
    stale = True

    def mark_stale(self) -> None:
        self.stale = True

    def action_next_range(self) -> None:
        self.range = next_range(self.range)
        self.stale = True
        self.refresh_if_stale()

    def refresh_if_stale(self) -> None:
        raise NotImplementedError
