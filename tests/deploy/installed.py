"""optin as the image has it: a wheel built from this checkout, installed into its own virtualenv.

The dependencies come from the running environment (a path line in the new environment, not a
second install: the machine may be offline), but `service`, `templates/` and `widget/` come from
the wheel alone, so a file the wheel forgets fails the tests that run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def install_wheel(into: Path) -> Path:
    """Builds the wheel and installs it under ``into``; returns the environment's ``bin`` folder."""
    wheels, venv = into / "wheels", into / "venv"
    # A checkout on PYTHONPATH would look like optin installed already, and pip would skip it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, REPO], check=True, env=env
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, env=env)
    [site] = (venv / "lib").glob("python3*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    [wheel] = wheels.glob("optin-*.whl")
    python = venv / "bin" / "python"
    install = [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, env=env)
    return venv / "bin"
