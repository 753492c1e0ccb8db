"""The terminal UI (`manage.py tui`): watch and steer a ccflare server from a terminal.

It talks to the server only over its HTTP API and SSE streams (docs/api.md), so it works
over SSH and against a server elsewhere. The one exception is `local_token`, which
creates an API token in this machine's database when no token is given.
"""
