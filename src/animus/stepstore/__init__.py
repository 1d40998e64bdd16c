"""`animus step-store serve`: the step-store protocol over stdio, a Unix socket or HTTP, in front of the engine's journal.

Example::

    from animus.stepstore import serve
    serve(db_url="sqlite:////tmp/animus.db", state_dir=Path("/tmp/state"), transport=Stdio())
"""

from animus.stepstore._protocol import METHODS, PLUGIN_NAME, STALE_EPOCH, UNKNOWN_RUN_OR_STEP, StepStoreProtocol
from animus.stepstore._serve import Http, Socket, Stdio, Transport, serve
from animus.stepstore._transports import serve_http, serve_socket, serve_stdio

__all__ = [
    "METHODS",
    "PLUGIN_NAME",
    "STALE_EPOCH",
    "UNKNOWN_RUN_OR_STEP",
    "Http",
    "Socket",
    "Stdio",
    "StepStoreProtocol",
    "Transport",
    "serve",
    "serve_http",
    "serve_socket",
    "serve_stdio",
]
