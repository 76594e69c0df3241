"""optin's app under uvicorn for a bench, optionally without its middlewares (to price them).

python -m bench.app_runner CONFIG PORT [--no-middleware]
"""

from __future__ import annotations

import sys

import uvicorn

from service.app import create_app
from service.settings import load_settings


def main() -> None:
    config, port = sys.argv[1], int(sys.argv[2])
    app = create_app(load_settings(config))
    if "--no-middleware" in sys.argv:
        app.user_middleware = []  # the stack is built at the first request, from this list
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False, server_header=False
    )


if __name__ == "__main__":
    main()
