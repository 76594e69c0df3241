"""Reading the files in deploy/ the way their tools do, and finding those tools.

The checkers (hadolint, check-jsonschema, kubernetes-validate, caddy, crossplane) come with the
dev extras, and systemd-analyze and openssl with the machine: a missing one fails the test that
needs it, with the way to install it, and is never skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def tool(name: str, how: str) -> str:
    """The path of a command: the test virtualenv's bin/ first, then $PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    found = shutil.which(name, path=path)
    if found is None:
        ci = " (CI=true)" if os.environ.get("CI") == "true" else ""
        pytest.fail(f"{name} is not installed{ci}: {how}")
    return found


DEV_EXTRAS = "pip install -e '.[dev]' (make test does)"


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert documents, f"{path} holds no YAML document"
    assert all(isinstance(d, dict) for d in documents), f"{path}: every document must be a mapping"
    return documents


# --- Dockerfile ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str
    stage: int  # 0 for the first FROM's stage

    def exec_form(self) -> list[str]:
        """The JSON array form (ENTRYPOINT ["optin"]); anything else is a failure here."""
        value = json.loads(self.args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self
        return value


def dockerfile(path: Path) -> list[Instruction]:
    """Instructions as Docker reads them: comments dropped, continuation lines joined."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker drops comment lines, even inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    assert not pending, f"{path} ends inside a continued instruction"
    return instructions


# --- systemd units ---------------------------------------------------------------------------


def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) in order: units repeat keys (Environment=, LoadCredential=)."""
    entries = []
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if match := re.fullmatch(r"\[(\w+)\]", line):
            section = match.group(1)
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(path: Path, key: str) -> list[str]:
    return [value for _, k, value in unit_entries(path) if k == key]
