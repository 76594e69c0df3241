"""optin's app under uvicorn for a bench, optionally without its middlewares (to price them).

python -m bench.app_runner CONFIG PORT [--no-middleware]
"""

from __future__ import annotations

import sys

import uvicorn

from service.app import EdgedStarlette, create_app
from service.settings import load_settings


def without_edge(app: EdgedStarlette) -> EdgedStarlette:
    """The same app on Starlette's own stack alone, to price the edge by the difference: the edge
    sits outside Starlette's middleware list, so emptying that list left it in place."""
    app.edge = lambda inner: inner  # the stack is built at the first request
    return app


def main() -> None:
    config, port = sys.argv[1], int(sys.argv[2])
    app = create_app(load_settings(config))
    if "--no-middleware" in sys.argv:
        without_edge(app)
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False, server_header=False
    )


if __name__ == "__main__":
    main()
