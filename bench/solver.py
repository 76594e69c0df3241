"""Bench: how long the widget's proof-of-work solver (widget/solver.js) takes in a browser.

    .venv/bin/python bench/solver.py            # about a minute on 2 cores

Debian's chromium (headless, through Playwright) runs solver.js on challenges made by the altcha
library exactly as the service makes them, with the secret number at the top of the range (the
worst case: every number is tried; a real challenge's number is uniform, so half that on average).
Each difficulty is timed as is and under Chrome's CPU throttling ×4, the slowdown Lighthouse uses
to stand for a mid-range phone. No network: the page is blank and the solver is injected.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from altcha.v1 import ChallengeOptions, create_challenge  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from service.antibot.policy import DIFFICULTY_FACTORS, AntiBotPolicy  # noqa: E402

SOLVER = (ROOT / "widget" / "solver.js").read_text(encoding="utf-8")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


async def main(throttles: list[float], repeat: int) -> None:
    base = AntiBotPolicy().altcha_max_number
    numbers = [base * factor for factor in DIFFICULTY_FACTORS]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = await browser.new_page()
        await page.add_script_tag(content=SOLVER)
        cdp = await page.context.new_cdp_session(page)
        print(f"{'max number':>12} {'CPU':>5} {'worst case':>11} {'average':>9} {'hashes/s':>10}")
        for throttle in throttles:
            await cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
            for number in numbers:
                best = float("inf")
                for _ in range(repeat):
                    c = create_challenge(ChallengeOptions(max_number=number, number=number, hmac_key="bench"))
                    challenge = {
                        "algorithm": c.algorithm,
                        "challenge": c.challenge,
                        "maxnumber": c.max_number,
                        "salt": c.salt,
                        "signature": c.signature,
                    }
                    started = time.perf_counter()
                    await page.evaluate("c => window.optinSolve(c)", challenge)
                    best = min(best, time.perf_counter() - started)
                print(
                    f"{number:>12,} {f'×{throttle:g}':>5} {best:>10.2f}s {best / 2:>8.2f}s {number / best:>10,.0f}"
                )
        await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--throttle", type=float, nargs="*", default=[1.0, 4.0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per difficulty; the fastest counts")
    args = parser.parse_args()
    asyncio.run(main(args.throttle, args.repeat))
