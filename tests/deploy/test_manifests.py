"""The SpinKube manifests in deploy/ validate against the real SpinApp CRD schema and match spin.toml."""

import tomllib
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT.parent / "shared" / "spinkube"


def _crd_schema(kind_file: str) -> dict:
    crd = yaml.safe_load((CRDS / kind_file).read_text())
    version = next(v for v in crd["spec"]["versions"] if v.get("served", True))
    return version["schema"]["openAPIV3Schema"]


def _spinapp() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "spinapp.yaml").read_text())


def test_spinapp_validates_against_the_crd():
    schema = _crd_schema("core.spinkube.dev_spinapps.yaml")
    app = _spinapp()
    assert app["apiVersion"] == "core.spinkube.dev/v1alpha1" and app["kind"] == "SpinApp"
    jsonschema.validate(app, schema)


def test_spinapp_variables_exist_in_the_manifest():
    manifest = tomllib.loads((ROOT / "spin.toml").read_text())
    declared = set(manifest["variables"])
    for var in _spinapp()["spec"]["variables"]:
        assert var["name"] in declared, f"{var['name']} is not a variable of spin.toml"


def test_configmap_holds_a_valid_model_list():
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "configmap.yaml").read_text()))
    config = yaml.safe_load(docs[0]["data"]["gateway.yaml"])
    for entry in config["model_list"]:
        assert "/" in entry["litellm_params"]["model"]


def test_manifest_uses_only_spin_3_6_features():
    manifest = tomllib.loads((ROOT / "spin.toml").read_text())
    assert manifest["spin_manifest_version"] == 2
    for name, component in manifest["component"].items():
        for dep in component.get("dependencies", {}).values():
            # Spin 4's per-dependency inherit_configuration is unknown to Spin 3.6 (SpinKube's shim).
            assert "inherit_configuration" not in dep, name
        assert "dependencies_inherit_configuration" not in component or component.get("dependencies")
