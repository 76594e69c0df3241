"""docs/operations.md and the README's "Deploying" section lead to files that exist."""

from __future__ import annotations

import re

from tests.deploy.files import ROOT

OPERATIONS = ROOT / "docs" / "operations.md"


def deploying_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Deploying\n")
    return readme[start : readme.index("\n## ", start + 1)]


def local_links(markdown: str) -> list[str]:
    return [t for t in re.findall(r"\]\(([^)#]+)", markdown) if not t.startswith(("http://", "https://"))]


def test_every_link_of_the_operations_guide_exists() -> None:
    links = local_links(OPERATIONS.read_text())
    assert len(links) >= 10
    missing = [link for link in links if not (OPERATIONS.parent / link).resolve().exists()]
    assert missing == []


def test_every_deploy_path_the_guide_names_exists() -> None:
    named = set(re.findall(r"\bdeploy/[\w./-]+[\w/]", OPERATIONS.read_text()))
    named -= {"deploy/.env", "deploy/secrets/", "deploy/secrets/smtp_password"}  # made by the operator
    assert {"deploy/compose.yaml", "deploy/compose-secrets.sh", "deploy/kubernetes/migrate-job.yaml"} <= named
    assert sorted(p for p in named if not (ROOT / p).exists()) == []


def test_the_readme_leads_to_the_guide_and_every_deploy_file_kind() -> None:
    section = deploying_section()
    links = local_links(section)
    assert "docs/operations.md" in links
    assert {
        "deploy/Dockerfile",
        "deploy/compose.yaml",
        "deploy/systemd/",
        "deploy/kubernetes/",
        "deploy/proxy/",
    } <= set(links)
    assert [link for link in links if not (ROOT / link).exists()] == []
