"""Liveness, readiness and Prometheus metrics for the Rasa server and the action server (docs/operations.md).

`install(app, engine)` wires them into the Rasa server's app (bot.server), and
`install_action_server(app, engine)` into the action server's (bot.action_server).
"""

from bot.observability.routes import OWN_AUTH_PATHS, install, install_action_server

__all__ = ["OWN_AUTH_PATHS", "install", "install_action_server"]
