"""deploy/kubernetes: every manifest valid against the Kubernetes 1.30 API schemas (strict: an
unknown field is an error), and the pieces wired together: probes, selectors, secrets as files."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.files import DEPLOY, DEV_EXTRAS, tool, yaml_documents

KUBE = DEPLOY / "kubernetes"
MANIFESTS = sorted(p for p in KUBE.glob("*.yaml") if p.name != "kustomization.yaml")
VERSION = "1.30.0"  # the oldest Kubernetes still commonly run; newer ones accept these too


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    validator = tool("kubernetes-validate", f"the kubernetes-validate package: {DEV_EXTRAS}")
    return subprocess.run(
        [validator, "--strict", "--kubernetes-version", VERSION, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_the_kubernetes_schemas(manifest: Path) -> None:
    result = validate(manifest)
    assert result.returncode == 0, result.stdout + result.stderr
    # A resource whose schema is unknown is only a warning there: require a pass for each one.
    passed = [line for line in result.stdout.splitlines() if " passed for resource " in line]
    assert len(passed) == len(yaml_documents(manifest)), result.stdout


def test_validator_refuses_an_unknown_field(tmp_path: Path) -> None:
    broken = tmp_path / "web.yaml"
    broken.write_text(
        (KUBE / "web-deployment.yaml").read_text().replace("readinessProbe:", "readynessProbe:")
    )
    result = validate(broken)
    assert result.returncode != 0 and "readynessProbe" in result.stdout


def resources() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for manifest in MANIFESTS:
        for document in yaml_documents(manifest):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


def pod_spec(kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = resources()[(kind, name)]["spec"]["template"]["spec"]
    return spec


def container(kind: str, name: str) -> dict[str, Any]:
    (only,) = pod_spec(kind, name)["containers"]
    assert isinstance(only, dict)
    return only


WORKLOADS = [("Deployment", "optin-web"), ("Deployment", "optin-worker"), ("Job", "optin-migrate")]


def test_kustomization_applies_everything_but_the_secret_example_and_the_job() -> None:
    (kustomization,) = yaml_documents(KUBE / "kustomization.yaml")
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"secret.example.yaml", "migrate-job.yaml"}


def test_web_runs_replicas_with_probes_a_budget_and_a_drain() -> None:
    web = resources()[("Deployment", "optin-web")]
    assert web["spec"]["replicas"] >= 2
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    optin = container("Deployment", "optin-web")
    assert optin["args"][:3] == ["serve", "--role", "web"]
    assert optin["ports"] == [{"name": "http", "containerPort": 8000}]
    assert optin["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert optin["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert optin["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    # The endpoints drop the pod during preStop; then SIGTERM drains for up to ~30 s.
    pre_stop = optin["lifecycle"]["preStop"]["exec"]["command"]
    assert (
        pre_stop[0] == "sleep"
        and int(pre_stop[1]) + 30 < pod_spec("Deployment", "optin-web")["terminationGracePeriodSeconds"]
    )
    budget = resources()[("PodDisruptionBudget", "optin-web")]
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == web["spec"]["template"]["metadata"]["labels"]


def test_worker_and_migration_run_their_roles() -> None:
    worker = container("Deployment", "optin-worker")
    assert worker["args"][:3] == ["serve", "--role", "worker"]
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert worker["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert pod_spec("Deployment", "optin-worker")["terminationGracePeriodSeconds"] > 30
    job = resources()[("Job", "optin-migrate")]
    assert container("Job", "optin-migrate")["args"] == ["migrate"]
    assert pod_spec("Job", "optin-migrate")["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1 and job["spec"]["ttlSecondsAfterFinished"] > 0
    images = {container(kind, name)["image"] for kind, name in WORKLOADS}
    assert len(images) == 1, images  # the Job migrates for exactly the version that will serve


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_pods_are_non_root_with_a_read_only_root_and_a_tmp(kind: str, name: str) -> None:
    pod = pod_spec(kind, name)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert pod["automountServiceAccountToken"] is False
    # Kubernetes would add OPTIN_WEB_SERVICE_HOST and the like: the OPTIN_ prefix is the settings'.
    assert pod["enableServiceLinks"] is False
    optin = container(kind, name)
    security = optin["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {m["name"]: m["mountPath"] for m in optin["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["tmp"] == "/tmp" and "emptyDir" in volumes["tmp"]
    assert {"requests", "limits"} <= optin["resources"].keys() and "memory" in optin["resources"]["limits"]


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_settings_come_from_the_configmap_and_secrets_from_mounted_files(kind: str, name: str) -> None:
    everything = resources()
    pod, optin = pod_spec(kind, name), container(kind, name)
    (source,) = optin["envFrom"]
    assert ("ConfigMap", source["configMapRef"]["name"]) in everything
    secret_volume = next(v for v in pod["volumes"] if "secret" in v)
    secret = everything[("Secret", secret_volume["secret"]["secretName"])]
    mount = next(m for m in optin["volumeMounts"] if m["name"] == secret_volume["name"])
    assert mount["readOnly"] is True
    files = {e["name"]: e["value"] for e in optin["env"] if e["name"].endswith("_FILE")}
    assert set(files) == {
        "OPTIN_SERVER__SECRET_KEY_FILE",
        "OPTIN_SERVER__DATABASE_FILE",
        "OPTIN_SMTP__PASSWORD_FILE",
    }
    assert sorted(files.values()) == sorted(f"{mount['mountPath']}/{key}" for key in secret["stringData"])
    # Nothing secret in plain environment variables or in the ConfigMap.
    assert all("value" not in e or e["name"].endswith("_FILE") for e in optin["env"])
    config = everything[("ConfigMap", source["configMapRef"]["name"])]["data"]
    assert not any(k.endswith(("SECRET_KEY", "PASSWORD", "__DATABASE")) for k in config)


def test_the_secret_example_cannot_run_by_accident() -> None:
    secret = resources()[("Secret", "optin-secrets")]
    assert set(secret["stringData"].values()) == {""}


def test_service_and_ingress_reach_the_web_pods_over_tls() -> None:
    everything = resources()
    service = everything[("Service", "optin-web")]
    web_labels = everything[("Deployment", "optin-web")]["spec"]["template"]["metadata"]["labels"]
    worker_labels = everything[("Deployment", "optin-worker")]["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    assert selector.items() <= web_labels.items() and not selector.items() <= worker_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"
    ingress = everything[("Ingress", "optin")]
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "optin-web", "port": {"name": port["name"]}}
    (tls,) = ingress["spec"]["tls"]
    assert tls["hosts"] == [rule["host"]] and tls["secretName"]
    public_url = everything[("ConfigMap", "optin-config")]["data"]["OPTIN_SERVER__PUBLIC_URL"]
    assert urlsplit(public_url).scheme == "https" and urlsplit(public_url).hostname == rule["host"]
