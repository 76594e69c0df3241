"""Regenerate ``tests/data/esp-specs/`` from the ESPs' full published OpenAPI documents.

    python tests/data/extract_esp_specs.py DIR [--out DIR]

``DIR`` holds the full documents under the file names below (their origins are listed in
``tests/data/esp-specs/README.md``). Each extract keeps, verbatim, only what the contract tests
validate: the operations our fakes serve and our connectors call, every component they reference
(the ``$ref`` closure), the security schemes and the top-level ``security`` requirements. Known
defects of the documents are not mended here: ``tests/connectors/specs.py`` patches them at load
time, as it did on the full documents. Output is JSON with sorted keys, so reruns are identical.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parent / "esp-specs"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
TOP_LEVEL = ("openapi", "info", "jsonSchemaDialect", "servers", "security")


@dataclass(frozen=True)
class Source:
    extract: str  # file name under tests/data/esp-specs/
    document: str  # file name of the full document in DIR
    operations: tuple[tuple[str, str], ...]  # (path template as the document spells it, method)


SOURCES = (
    Source(
        "mailchimp.json",
        "mailchimp_marketing_3.0.55_openapi.yaml",
        (
            ("/lists/{list_id}", "get"),
            ("/lists/{list_id}", "post"),
            ("/lists/{list_id}/members", "post"),
            ("/lists/{list_id}/members/{subscriber_hash}", "get"),
            ("/lists/{list_id}/members/{subscriber_hash}", "put"),
            ("/lists/{list_id}/members/{subscriber_hash}", "patch"),
            ("/lists/{list_id}/members/{subscriber_hash}/tags", "post"),
        ),
    ),
    Source(
        "brevo.json",
        "brevo_v3_openapi3_pr47.yml",
        (
            ("/contacts", "post"),
            ("/contacts/{identifier}", "put"),
            ("/contacts/lists/{listId}", "get"),
        ),
    ),
    Source(
        "sendgrid_contacts.json",
        "sendgrid_tsg_mc_contacts_v3.json",
        (
            ("/v3/marketing/contacts", "put"),
            ("/v3/marketing/contacts/search/emails", "post"),
        ),
    ),
    Source(
        "sendgrid_lists.json",
        "sendgrid_tsg_mc_lists_v3.json",
        (
            ("/v3/marketing/lists/{id}", "get"),
            ("/v3/marketing/lists/{id}/contacts", "delete"),
        ),
    ),
    Source(
        "getresponse.json",
        "getresponse_v3_skill_subset_openapi.json",
        (
            ("/contacts", "get"),
            ("/contacts", "post"),
            ("/contacts/batch", "post"),
            # The document has no update or delete; specs.py adds both to this path item.
            ("/contacts/{contactId}", "get"),
            ("/campaigns/{campaignId}", "get"),
        ),
    ),
    Source(
        "kit.json",
        "kit_v4_openapi.json",
        (
            ("/v4/account", "get"),
            ("/v4/forms", "get"),
            ("/v4/forms/{form_id}/subscribers", "post"),
            ("/v4/subscribers", "get"),
            ("/v4/subscribers", "post"),
            ("/v4/subscribers/{id}/unsubscribe", "post"),
            ("/v4/tags/{tag_id}/subscribers", "post"),
        ),
    ),
)


class _NoTimestamps(yaml.CSafeLoader):
    """Keeps unquoted dates as strings (Brevo's document has some; JSON has no dates)."""


_NoTimestamps.yaml_implicit_resolvers = {
    key: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


def _string_keys(node: Any) -> Any:
    # Brevo's response codes are unquoted YAML integers; OpenAPI wants strings.
    if isinstance(node, dict):
        return {str(k): _string_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_string_keys(v) for v in node]
    return node


def load(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        doc = json.loads(text)
    else:
        doc = _string_keys(yaml.load(text, Loader=_NoTimestamps))  # noqa: S506 (a CSafeLoader)
    if not isinstance(doc, dict):
        raise ValueError(f"{path.name}: not an OpenAPI document")
    return doc


def _pointer(ref: str) -> list[str]:
    if not ref.startswith("#/components/"):
        raise ValueError(f"unsupported $ref {ref!r}: only local refs into components are extracted")
    return [part.replace("~1", "/").replace("~0", "~") for part in ref[2:].split("/")]


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            elif key == "mapping" and isinstance(value, dict):  # discriminator targets
                found.extend(v for v in value.values() if isinstance(v, str) and v.startswith("#/"))
            else:
                found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


def extract(doc: dict[str, Any], operations: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {key: copy.deepcopy(doc[key]) for key in TOP_LEVEL if key in doc}
    paths: dict[str, Any] = {}
    for path, method in operations:
        item = doc["paths"][path]  # KeyError names a path the document lacks
        kept = paths.setdefault(path, {k: v for k, v in item.items() if k not in METHODS})
        kept[method] = item[method]
    out["paths"] = copy.deepcopy(paths)

    components: dict[str, dict[str, Any]] = {}
    schemes = doc.get("components", {}).get("securitySchemes")
    if schemes:
        components["securitySchemes"] = copy.deepcopy(schemes)
    pending = _refs(out["paths"]) + _refs(components)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        parts = _pointer(ref)
        if len(parts) != 3:
            raise ValueError(f"unsupported $ref {ref!r}: it points inside a component")
        _, kind, name = parts
        target = doc["components"][kind][name]
        components.setdefault(kind, {})[name] = copy.deepcopy(target)
        pending.extend(_refs(target))
    if components:
        out["components"] = components
    return out


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("documents", type=Path, help="directory holding the full OpenAPI documents")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the extracts (default {OUT})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for source in SOURCES:
        extracted = render(extract(load(args.documents / source.document), source.operations))
        (args.out / source.extract).write_text(extracted, encoding="utf-8")
        print(f"{source.extract}: {len(extracted.encode()):,} bytes from {source.document}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
