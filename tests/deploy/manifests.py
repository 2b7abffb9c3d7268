"""Rendering and checking deploy/, offline.

- Rendering: the kustomize built into kubectl (`kubectl kustomize`), or a `kustomize` binary, on a
  copy of deploy/ in which the dev overlay's keys.env is made from keys.env.example.
- Kubernetes' own kinds: the JSON schemas bundled by the `kubernetes-validate` package (PyPI), in
  their strict form (unknown fields are errors), for several Kubernetes versions.
- SpinApp and SpinAppExecutor: the openAPIV3Schema of the CRDs in ../shared/spinkube, made strict
  the same way (the API server would silently drop an unknown field, e.g. a misspelt `checks`).
- OpenShift's Route and OVN-Kubernetes' EgressFirewall: hand-written schemas of the fields these
  manifests use (tests/deploy/schemas/), strict as well.
- The runtime config spin-operator writes into the pod (/runtime-config.toml) from a SpinApp's
  `runtimeConfig`, rendered as its runtimeconfig package does, so the tests can run it on Spin.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CRDS = ROOT.parent / "shared" / "spinkube"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

# What the tests render: the base, the three overlays, and two combinations a user may build.
OVERLAYS = {
    "base": "base",
    "dev": "overlays/dev",
    "production": "overlays/production",
    "openshift": "overlays/openshift",
    # Test-only kustomizations written into the copy (see render_all).
    "dev+openshift": "combos/dev-openshift",
    "openshift+egress-firewall": "combos/openshift-egress-firewall",
    # The README's own overlay: openshift, the app's image and a LiteLLM config.yaml as it is.
    "readme-example": "combos/readme-example",
}
COMBOS = {
    # As a user's own overlay would (with its namespace).
    "combos/dev-openshift": {"namespace": "llm-gateway", "resources": ["../../overlays/dev"],
                             "components": ["../../components/openshift"]},
    "combos/openshift-egress-firewall": {
        "namespace": "llm-gateway", "resources": ["../../overlays/openshift"],
        "components": ["../../components/openshift-egress-firewall"],
        "images": [{"name": "ghcr.io/example/llm-gateway",
                    "newName": "quay.io/acme/llm-gateway", "newTag": "1.2.3"}]},
    "combos/readme-example": {
        "namespace": "llm-gateway", "resources": ["../../overlays/openshift"],
        "images": [{"name": "ghcr.io/example/llm-gateway",
                    "newName": "quay.io/acme/llm-gateway", "newTag": "0.1.0"}],
        "configMapGenerator": [{"name": "llm-gateway-config", "behavior": "replace",
                                "files": ["config.yaml"]}]},
}
LITELLM_CONFIG = Path(__file__).resolve().parent / "litellm-config.yaml"

# spin-operator's constants (pkg/spinapp, internal/constants): the port of the pods and of the
# Service it makes, the label on every pod of an app, and the runtime config's mount point.
OPERATOR_HTTP_PORT = 80
APP_NAME_LABEL = "core.spinkube.dev/app-name"
RUNTIME_CONFIG_PATH = "/runtime-config.toml"

# Kubernetes versions the built-in kinds are validated against: OpenShift 4.16 EUS's (1.29), the
# kubectl on these machines (1.32) and the newest the package bundles.
K8S_VERSIONS = ("1.29", "1.32", "latest")


class NoRenderer(RuntimeError):
    pass


def renderer() -> list[str]:
    """The kustomize command: `kustomize build` if installed, else `kubectl kustomize`."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    raise NoRenderer("no kustomize and no kubectl on PATH (kubectl has kustomize built in)")


def renderer_version() -> str:
    cmd = renderer()
    if cmd[0] == "kustomize":
        out = subprocess.run(["kustomize", "version"], capture_output=True, text=True).stdout
    else:
        out = subprocess.run(["kubectl", "version", "--client"], capture_output=True,
                             text=True).stdout
    return " ".join(out.split())


def prepare_copy(dest: Path) -> Path:
    """A copy of deploy/ with keys.env made from the example and the test-only combinations."""
    copy_root = dest / "deploy"
    shutil.copytree(DEPLOY, copy_root, ignore=shutil.ignore_patterns("keys.env"))
    dev = copy_root / "overlays" / "dev"
    shutil.copyfile(dev / "keys.env.example", dev / "keys.env")
    for path, body in COMBOS.items():
        (copy_root / path).mkdir(parents=True)
        (copy_root / path / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **body}))
    shutil.copyfile(LITELLM_CONFIG, copy_root / "combos" / "readme-example" / "config.yaml")
    return copy_root


def render(copy_root: Path, overlay: str) -> list[dict]:
    proc = subprocess.run([*renderer(), str(copy_root / overlay)], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"kustomize {overlay} failed: {proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def render_all(tmp: Path) -> dict[str, list[dict]]:
    copy_root = prepare_copy(tmp)
    return {name: render(copy_root, path) for name, path in OVERLAYS.items()}


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


# --- schemas ---------------------------------------------------------------------------------

def _strict(schema):
    """A copy of an OpenAPI v3 schema in which objects with declared properties allow no others."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def crd_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """(apiVersion, kind) -> validator, for every CRD in ../shared/spinkube and tests/deploy/schemas."""
    out = {}
    for path in [*sorted(CRDS.glob("*.yaml")), *sorted(SCHEMAS.glob("*.yaml"))]:
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served", True):
                continue
            schema = _strict(version["schema"]["openAPIV3Schema"])
            out[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return out


def _k8s_schema_root() -> Path:
    import kubernetes_validate

    return Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"


def k8s_versions() -> list[str]:
    """The Kubernetes versions to validate against, as the package names its schema folders."""
    available = sorted(
        (re.match(r"v(\d+\.\d+)\.\d+-local-strict$", p.name).group(1)
         for p in _k8s_schema_root().iterdir() if re.match(r"v\d+\.\d+\.\d+-local-strict$", p.name)),
        key=lambda v: tuple(int(x) for x in v.split(".")))
    wanted = [available[-1] if v == "latest" else v for v in K8S_VERSIONS]
    missing = [v for v in wanted if v not in available]
    assert not missing, f"kubernetes-validate has no schemas for {missing}; it has {available}"
    return sorted(set(wanted), key=lambda v: tuple(int(x) for x in v.split(".")))


@functools.cache
def _k8s_registry(version: str):
    from referencing import Registry, Resource

    folder = next(_k8s_schema_root().glob(f"v{version}.*-local-strict"))
    definitions = json.loads((folder / "_definitions.json").read_text())
    return folder, Resource.from_contents(definitions) @ Registry()


@functools.cache
def k8s_validator(version: str, api_version: str, kind: str):
    folder, registry = _k8s_registry(version)
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = folder / f"{kind.lower()}-{group_version}.json"
    if not path.exists():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validation_errors(obj: dict) -> list[str]:
    """Every schema error of `obj`, against its CRD or against each Kubernetes version."""
    key = (obj["apiVersion"], obj["kind"])
    where = f"{obj['kind']}/{obj['metadata'].get('name')}"
    if key in crd_validators():
        return [f"{where}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in crd_validators()[key].iter_errors(obj)]
    errors = []
    for version in k8s_versions():
        validator = k8s_validator(version, *key)
        if validator is None:
            errors.append(f"{where}: no schema for {key} in Kubernetes {version}")
            continue
        errors += [f"{where} (Kubernetes {version}): {'.'.join(map(str, e.absolute_path))}: "
                   f"{e.message}" for e in validator.iter_errors(obj)]
    return errors


# --- spin-operator's runtime config ----------------------------------------------------------

def _option_value(option: dict, objects: list[dict], namespace: str) -> str:
    """An option's value as the operator resolves it (internal/runtimeconfig/types.go)."""
    if option.get("value"):
        return option["value"]
    source = option.get("valueFrom") or {}
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        return one(objects, "ConfigMap", ref["name"]).get("data", {}).get(ref["key"], "")
    if "secretKeyRef" in source:
        import base64

        ref = source["secretKeyRef"]
        secret = one(objects, "Secret", ref["name"])
        if ref["key"] in secret.get("stringData", {}):
            return secret["stringData"][ref["key"]]
        return base64.b64decode(secret.get("data", {}).get(ref["key"], "")).decode()
    return ""


def operator_runtime_config(app: dict, objects: list[dict]) -> dict | None:
    """The runtime config table spin-operator writes for `app` (None when it writes none:
    `loadFromSecret` names a Secret the user provides)."""
    rc = app["spec"].get("runtimeConfig") or {}
    if rc.get("loadFromSecret"):
        return None
    namespace = app["metadata"].get("namespace", "")
    out: dict = {"config_provider": [{"type": "env", "prefix": "SPIN_VARIABLE_"}]}
    for field, table in (("keyValueStores", "key_value_store"),
                         ("sqliteDatabases", "sqlite_database")):
        for entry in rc.get(field, []):
            section = out.setdefault(table, {})
            assert entry["name"] not in section, f"duplicate {table} {entry['name']}"
            section[entry["name"]] = {"type": entry["type"], **{
                o["name"]: _option_value(o, objects, namespace) for o in entry.get("options", [])}}
    if rc.get("llmCompute"):
        llm = rc["llmCompute"]
        out["llm_compute"] = {"type": llm["type"], **{
            o["name"]: _option_value(o, objects, namespace) for o in llm.get("options", [])}}
    return out


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))  # a TOML basic string is a JSON string for these values


def to_toml(table: dict) -> str:
    """TOML text for the shapes a runtime config has (tables of tables, arrays of tables)."""
    lines: list[str] = []
    for key, value in table.items():
        if isinstance(value, list):
            for item in value:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
                lines.append("")
        elif isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            for label, fields in value.items():
                lines.append(f"[{key}.{label}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in fields.items()]
                lines.append("")
        elif isinstance(value, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
            lines.append("")
        else:
            lines.insert(0, f"{key} = {_toml_value(value)}")
    return "\n".join(lines)


def relocate(runtime_config: dict, mount_path: str, local_dir: Path) -> dict:
    """The runtime config with file paths under a pod volume's `mount_path` moved to `local_dir`."""
    out = copy.deepcopy(runtime_config)
    for table in ("key_value_store", "sqlite_database"):
        for fields in out.get(table, {}).values():
            path = fields.get("path")
            if path and path.startswith(mount_path.rstrip("/") + "/"):
                fields["path"] = str(local_dir / os.path.relpath(path, mount_path))
    return out
