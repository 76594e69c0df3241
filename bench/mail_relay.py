"""The bench's relay: aiosmtpd on loopback with STARTTLS and AUTH, counting what it accepts.

python -m bench.mail_relay PORT CERT_DIR     (CERT_DIR holds relay.pem: key and certificate)
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        Sink.count += 1
        return "250 OK"


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    return AuthResult(
        success=isinstance(data, LoginPassword) and data.password == b"bench-pass", handled=False
    )


async def main() -> None:
    port, certs = int(sys.argv[1]), Path(sys.argv[2])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "relay.pem")
    sink = Sink()

    def factory() -> SMTP:
        return SMTP(sink, hostname="relay.bench", tls_context=context, require_starttls=True,
                    auth_required=True, authenticator=_auth)  # fmt: skip

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
