"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams.

Light enough that, on a 2-core machine, the server under test, not the client, is what is
measured. Each connection sends its requests one after another; ``concurrency`` connections
run at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    requests: int
    seconds: float
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def post_many(
    host: str, port: int, path: str, body_for: Callable[[int], bytes], total: int, concurrency: int
) -> Result:
    def request(i: int) -> bytes:
        body = body_for(i)
        return (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    return await send_many(host, port, request, total, concurrency)


async def get_many(
    host: str, port: int, path: str, total: int, concurrency: int, headers: str = ""
) -> Result:
    raw = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}\r\n".encode()
    return await send_many(host, port, lambda _: raw, total, concurrency)


async def send_many(
    host: str, port: int, request_for: Callable[[int], bytes], total: int, concurrency: int
) -> Result:
    counter = iter(range(total))
    result = Result(requests=total, seconds=0.0)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in counter:
                request = request_for(i)
                started = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result
