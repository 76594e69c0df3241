"""Bench: optin's verifier beside python-email-validator, against one loopback DNS zone.

    .venv/bin/python bench/verify.py            # ~2 minutes on 2 cores

1. accuracy on a labelled list (real people, dead/disposable/broken addresses, typos);
2. bulk verification of a file as a whole process: ``optin verify FILE`` beside
   bench/peer_verify.py (email-validator's ``validate_email(check_deliverability=True)`` with its
   ``caching_resolver``), each started fresh, one warm-up run each, best of three; wall time and
   peak memory of each process;
3. bulk throughput in one process with a warm cache (optin: 64 concurrent; email-validator: its
   caching resolver);
4. POST /v1/verify requests/s and p50/p99 at 64 concurrent keep-alive clients vs a bare Starlette
   JSON endpoint, each served by uvicorn (one process) on 127.0.0.1.

Every DNS query goes to a dnslib server on 127.0.0.1; the addresses in its answers are
public-looking (documentation ranges are not public, so no mail server can be there) or private,
and nothing ever connects to them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dns.resolver  # noqa: E402
import email_validator  # noqa: E402
from dnslib import QTYPE, RCODE, RR  # noqa: E402
from dnslib.server import BaseResolver, DNSLogger, DNSServer  # noqa: E402

from bench.loadgen import post_many  # noqa: E402
from service.verification import Verdict, Verifier, VerifierConfig  # noqa: E402
from service.verification.cli import verify_all  # noqa: E402

# ---------------------------------------------------------------- the zone and the labelled list

GOOD_DOMAINS = [
    "gmail.com", "outlook.com", "hotmail.fr", "hotmail.es", "yahoo.fr", "orange.fr", "wanadoo.fr",
    "free.fr", "laposte.net", "sfr.fr", "gmx.de", "web.de", "t-online.de", "libero.it", "icloud.com",
    "proton.me", "terra.com.br", "uol.com.br", "bol.com.br", "yahoo.co.jp", "naver.com", "seznam.cz",
    "wp.pl", "live.it", "proton.de", "uol.com", "terra.com", "gmx.net", "mail.de", "orange.es",
    "acme-industries.com", "example.co.uk", "bücher.de", "université.fr", "smallshop.net",
]  # fmt: skip
A_ONLY_DOMAINS = ["tiny-company.org"]
DISPOSABLE = ["mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com", "trashmail.com"]
DEAD = {  # domain -> zone records (NXDOMAIN when empty)
    "no-such-company-xyz.com": [],
    "closed-shop.fr": ["MX 0 ."],
    "parked-domain.net": ["TXT parked"],
    "broken-mx.com": ["MX 10 mx.gone-away.net."],
    "intranet-only.com": ["MX 10 mail.intranet-only.com."],
}
TYPOS = {
    "gmail.con": "gmail.com", "gmial.com": "gmail.com", "gmaill.com": "gmail.com", "gnail.com": "gmail.com",
    "hotmial.fr": "hotmail.fr", "hotmail.fe": "hotmail.fr", "yahoo.ft": "yahoo.fr", "yaho.fr": "yahoo.fr",
    "oragne.fr": "orange.fr", "wanado.fr": "wanadoo.fr", "laposte.nte": "laposte.net", "gmx.dr": "gmx.de",
    "t-onlin.de": "t-online.de", "libro.it": "libero.it", "protn.me": "proton.me",
    "tera.com.br": "terra.com.br", "icloud.con": "icloud.com", "outlok.com": "outlook.com",
    "sfr.fe": "sfr.fr", "fre.fr": "free.fr", "webb.de": "web.de", "uol.com.bt": "uol.com.br",
}  # fmt: skip
LOCALS = [
    "ann.lee",
    "j.dupont",
    "marco.rossi",
    "joao.silva",
    "k.schmidt",
    "yuki",
    "p.novak",
    "ewa.k",
    "sam+news",
]


def build_zone() -> dict[str, list[str]]:
    zone: dict[str, list[str]] = {}
    for i, domain in enumerate(GOOD_DOMAINS + DISPOSABLE):
        name = domain.encode("idna").decode() if not domain.isascii() else domain
        zone[name] = [f"MX 10 mx.{name}."]
        zone[f"mx.{name}"] = [f"A 93.184.216.{i + 1}"]
    for i, domain in enumerate(A_ONLY_DOMAINS):
        zone[domain] = [f"A 93.184.215.{i + 1}"]  # public-looking: both tools require a global address
    zone["gmial.com"] = ["TXT parked"]
    zone["mail.intranet-only.com"] = ["A 10.0.0.25"]
    zone.update({d: r for d, r in DEAD.items() if r})
    return zone


@dataclass(frozen=True)
class Case:
    address: str
    label: str  # good | bad | typo
    suggestion: str | None = None


def labelled() -> list[Case]:
    cases: list[Case] = []
    for i, domain in enumerate(GOOD_DOMAINS + A_ONLY_DOMAINS):
        for local in LOCALS[i % 3 :: 3]:
            cases.append(Case(f"{local}@{domain}", "good"))
    # what people really type: surrounding spaces, capitals, a trailing newline, role mailboxes
    cases += [
        Case(" ann.lee@gmail.com", "good"),
        Case("Ann.Lee@Gmail.com ", "good"),
        Case("MARCO.ROSSI@LIBERO.IT", "good"),
        Case("joao.silva@terra.com.br\n", "good"),
        Case("info@acme-industries.com", "good"),
        Case("josé@université.fr", "good"),
    ]
    for domain in list(DEAD) + DISPOSABLE:
        cases += [Case(f"ann.lee@{domain}", "bad"), Case(f"k.schmidt@{domain}", "bad")]
    for bad in [
        "ann@@gmail.com",
        "ann lee@gmail.com",
        "Ann <ann@gmail.com>",
        "ann..lee@gmail.com",
        "ann@gmail",
    ]:
        cases.append(Case(bad, "bad"))
    for typo, meant in TYPOS.items():
        cases.append(Case(f"ann.lee@{typo}", "typo", f"ann.lee@{meant}"))
    return cases


class ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zone: dict[str, list[str]]) -> None:
        self.zone = zone

    def resolve(self, request: Any, handler: Any) -> Any:
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        reply = request.reply()
        records = self.zone.get(qname)
        soa = f"{qname}. 60 IN SOA ns.invalid. host.invalid. 1 3600 600 86400 60"
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(*RR.fromZone(soa))
            return reply
        for record in records:
            rtype, rdata = record.split(" ", 1)
            if rtype == qtype:
                reply.add_answer(*RR.fromZone(f"{qname}. 3600 IN {rtype} {rdata}"))
        if not reply.rr:
            reply.add_auth(*RR.fromZone(soa))
        return reply


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_dns() -> tuple[int, list[DNSServer]]:
    port = free_port()
    logger = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    servers = [
        DNSServer(ZoneResolver(build_zone()), address="127.0.0.1", port=port, logger=logger, tcp=tcp)
        for tcp in (False, True)
    ]
    for server in servers:
        server.start_thread()
    return port, servers


# ---------------------------------------------------------------- the two verifiers


def peer_resolver(port: int) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    return email_validator.caching_resolver(timeout=3, dns_resolver=resolver)


def peer_verdict(address: str, resolver: dns.resolver.Resolver) -> bool:
    """email-validator: True when it accepts the address."""
    try:
        email_validator.validate_email(address, check_deliverability=True, dns_resolver=resolver)
    except email_validator.EmailNotValidError:
        return False
    return True


async def ours_all(verifier: Verifier, addresses: list[str]) -> list[Verdict]:
    out: list[Verdict] = []
    await verify_all(addresses, verifier, out.append, concurrency=64)
    return out


# ---------------------------------------------------------------- 1. accuracy


def accuracy(port: int, verifier: Verifier) -> dict[str, Any]:
    cases = labelled()
    resolver = peer_resolver(port)
    verdicts = asyncio.run(ours_all(verifier, [c.address for c in cases]))
    peer = [peer_verdict(c.address, resolver) for c in cases]
    good = [i for i, c in enumerate(cases) if c.label == "good"]
    bad = [i for i, c in enumerate(cases) if c.label != "good"]
    typos = [i for i, c in enumerate(cases) if c.label == "typo"]
    ours_right = sum(
        (verdicts[i].decision != "reject") if cases[i].label == "good" else (verdicts[i].decision == "reject")
        for i in range(len(cases))
    )
    peer_right = sum(peer[i] == (cases[i].label == "good") for i in range(len(cases)))
    misses = [
        (c.address, v.decision, v.suggestion)
        for c, v in zip(cases, verdicts, strict=True)
        if (c.label == "good") == (v.decision == "reject") or v.suggestion != c.suggestion
    ]
    return {
        "cases": len(cases),
        "good": len(good),
        "bad_or_typo": len(bad),
        "ours_decided_right": ours_right / len(cases),
        "peer_decided_right": peer_right / len(cases),
        "ours_real_people_rejected": sum(verdicts[i].decision == "reject" for i in good) / len(good),
        "peer_real_people_rejected": sum(not peer[i] for i in good) / len(good),
        "ours_bad_accepted": sum(verdicts[i].decision != "reject" for i in bad) / len(bad),
        "peer_bad_accepted": sum(peer[i] for i in bad) / len(bad),
        "ours_typos_suggested": sum(verdicts[i].suggestion == cases[i].suggestion for i in typos)
        / len(typos),
        "ours_good_corrected": sum(verdicts[i].suggestion is not None for i in good) / len(good),
        "misses": misses,
    }


# ---------------------------------------------------------------- 2. bulk throughput, warm cache


def throughput(port: int, verifier: Verifier, n_ours: int, n_peer: int) -> dict[str, float]:
    rng = random.Random(7)
    domains = GOOD_DOMAINS + A_ONLY_DOMAINS + DISPOSABLE + list(DEAD) + list(TYPOS)
    pool = [f"{rng.choice(LOCALS)}{rng.randrange(10_000)}@{rng.choice(domains)}" for _ in range(n_ours)]
    resolver = peer_resolver(port)
    # warm both: every domain's DNS answers cached, and one pass over the input done
    asyncio.run(ours_all(verifier, pool))
    for address in pool[:n_peer]:
        peer_verdict(address, resolver)

    def best_rate(n: int, run: Callable[[], object]) -> float:
        """Best of three passes, the same for both tools: the machine is shared."""
        times = []
        for _ in range(3):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        return n / min(times)

    ours = best_rate(n_ours, lambda: asyncio.run(ours_all(verifier, pool)))
    peer = best_rate(n_peer, lambda: [peer_verdict(a, resolver) for a in pool[:n_peer]])
    return {"ours_per_s": ours, "peer_per_s": peer, "ratio": ours / peer}


# ---------------------------------------------------------------- 2. a file, whole processes


def address_file(path: Path, n: int, seed: int = 11) -> None:
    """``n`` addresses, one a line, over every domain of the zone (as a customer export would)."""
    rng = random.Random(seed)
    domains = GOOD_DOMAINS + A_ONLY_DOMAINS + DISPOSABLE + list(DEAD) + list(TYPOS)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            out.write(f"{rng.choice(LOCALS)}.{i}@{rng.choice(domains)}\n")


def timed_process(command: list[str], output: Path) -> tuple[float, int]:
    """Wall time (s) and peak resident memory (KiB) of one process writing to ``output``."""
    with output.open("wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{command[:4]} exited with {child.returncode}")
    return elapsed, int(usage.ru_maxrss)


def whole_process(port: int, n: int, rounds: int = 3) -> dict[str, Any]:
    nameserver = f"127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "addresses.txt"
        address_file(source, n)
        commands = {
            "optin": [sys.executable, "-m", "service", "verify", str(source), "--nameserver", nameserver],
            "peer": [
                sys.executable,
                str(ROOT / "bench" / "peer_verify.py"),
                str(source),
                "--nameserver",
                nameserver,
            ],
        }
        best: dict[str, tuple[float, int]] = {}
        for name, command in commands.items():
            output = Path(folder) / f"{name}.jsonl"
            timed_process(command, output)  # warm-up: imports compiled, files in the page cache
            runs = [timed_process(command, output) for _ in range(rounds)]
            best[name] = min(runs)
            with output.open("rb") as written:
                lines = sum(1 for _ in written)
            if lines != n:
                raise RuntimeError(f"{name} wrote {lines} verdicts for {n} addresses")
    ours, peer = best["optin"], best["peer"]
    return {
        "addresses": n,
        "ours_s": ours[0],
        "peer_s": peer[0],
        "ours_rss_kib": ours[1],
        "peer_rss_kib": peer[1],
        "ratio": peer[0] / ours[0],
    }


# ---------------------------------------------------------------- 4. HTTP


def serve(kind: str, port: int, nameserver: str) -> None:
    """Run in a child process: one uvicorn server with /v1/verify or the bare endpoint."""
    from types import SimpleNamespace

    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Route

    from bench.bare import accept
    from service.verification import Policy
    from service.verification.http import verify_endpoint

    app = Starlette(
        routes=[Route("/v1/verify", verify_endpoint if kind == "verify" else accept, methods=["POST"])]
    )
    app.state.verifier = Verifier(VerifierConfig(nameservers=(nameserver,)))
    app.state.settings = SimpleNamespace(forms={"newsletter": SimpleNamespace(policy=Policy())})
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def load(port: int, bodies: list[bytes], total: int, clients: int) -> dict[str, float]:
    def body_for(i: int) -> bytes:
        return bodies[i % len(bodies)]

    for _ in range(100):  # wait for the server, then warm it (and its DNS cache) up
        try:
            await post_many("127.0.0.1", port, "/v1/verify", body_for, 1000, clients)
            break
        except OSError:
            await asyncio.sleep(0.1)
    result = await post_many("127.0.0.1", port, "/v1/verify", body_for, total, clients)
    if set(result.statuses) - {200, 202}:
        raise RuntimeError(f"unexpected statuses {result.statuses}")
    return {"rps": result.rate, "p50_ms": result.percentile(0.50), "p99_ms": result.percentile(0.99)}


def http(dns_port: int, total: int) -> dict[str, dict[str, float]]:
    cases = labelled()
    bodies = [json.dumps({"email": c.address, "form": "newsletter"}).encode() for c in cases]
    results: dict[str, dict[str, float]] = {}
    for kind in ("bare", "verify"):
        port = free_port()
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                kind,
                "--port",
                str(port),
                "--nameserver",
                f"127.0.0.1:{dns_port}",
            ]
        )
        try:
            results[kind] = asyncio.run(load(port, bodies, total, clients=64))
        finally:
            child.terminate()
            child.wait(timeout=10)
    return results


# ---------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", choices=("verify", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--nameserver", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=int, default=100_000, help="addresses in the whole-process run")
    parser.add_argument("--only-file", action="store_true", help="run only the whole-process comparison")
    parser.add_argument("--bulk", type=int, default=20_000, help="addresses for optin's throughput run")
    parser.add_argument("--bulk-peer", type=int, default=4_000, help="addresses for email-validator's run")
    parser.add_argument("--requests", type=int, default=40_000, help="requests per HTTP load run")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.nameserver)
        return

    dns_port, servers = start_dns()
    config = VerifierConfig(nameservers=(f"127.0.0.1:{dns_port}",))
    say: Callable[[str], None] = print
    try:
        whole = whole_process(dns_port, args.file)
        say(
            f"optin verify FILE ({whole['addresses']:,} addresses, whole process, best of 3):"
            f" optin {whole['ours_s']:.2f} s ({whole['ours_rss_kib'] / 1024:.0f} MiB peak)"
            f"  email-validator {whole['peer_s']:.2f} s ({whole['peer_rss_kib'] / 1024:.0f} MiB peak)"
            f"  ratio {whole['ratio']:.1f}x"
        )
        if args.only_file:
            return
        acc = accuracy(dns_port, Verifier(config))
        say(
            f"accuracy on {acc['cases']} labelled addresses ({acc['good']} real people, {acc['bad_or_typo']} bad/typo)"
        )
        for key in ("decided_right", "real_people_rejected", "bad_accepted"):
            say(f"  {key:22} optin {acc['ours_' + key]:7.1%}   email-validator {acc['peer_' + key]:7.1%}")
        say(f"  {'typos_suggested':22} optin {acc['ours_typos_suggested']:7.1%}   email-validator    0.0%")
        say(f"  {'good_corrected':22} optin {acc['ours_good_corrected']:7.1%}   email-validator    0.0%")
        for miss in acc["misses"]:
            say(f"  miss: {miss}")
        bulk = throughput(dns_port, Verifier(config), args.bulk, args.bulk_peer)
        say(
            f"bulk, warm cache: optin {bulk['ours_per_s']:,.0f}/s  email-validator {bulk['peer_per_s']:,.0f}/s"
            f"  ratio {bulk['ratio']:.1f}x"
        )
        web = http(dns_port, args.requests)
        for kind, r in web.items():
            say(
                f"HTTP {kind:6}: {r['rps']:,.0f} req/s  p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms (64 clients)"
            )
        say(
            f"POST /v1/verify at {web['verify']['rps'] / web['bare']['rps']:.0%} of the bare endpoint's req/s"
        )
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
