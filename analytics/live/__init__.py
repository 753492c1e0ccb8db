"""The live feed: events published to the dashboard, the SSE streams and notifications."""
