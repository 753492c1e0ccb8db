"""Signal receivers of the analytics app."""
