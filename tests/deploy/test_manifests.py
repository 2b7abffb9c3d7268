"""deploy/ rendered with kustomize (base, overlays dev, production, openshift, and the OpenShift
components on top of dev and production): every object validates against its schema (the SpinApp
and SpinAppExecutor CRDs in ../shared/spinkube, Kubernetes' own schemas for the built-in kinds,
hand-written schemas for Route and EgressFirewall), and the pieces agree with each other and with
spin.toml: variables, Secret keys, the gateway config's origins, the stores the runtime config
defines, the Redis Service, the operator's names and labels, the NetworkPolicy's holes."""

import base64
import copy
import ipaddress
import subprocess
import tomllib
from urllib.parse import urlsplit

import pytest
import yaml
from manifests import (APP_NAME_LABEL, DEPLOY, LITELLM_CONFIG, OPERATOR_HTTP_PORT, OVERLAYS, ROOT,
                       find, one, operator_runtime_config, validation_errors)

NAMESPACE = "llm-gateway"
MULTI_REPLICA = ("base", "production", "openshift", "openshift+egress-firewall", "readme-example")
PRODUCTION = ("production", "openshift", "openshift+egress-firewall", "readme-example")
DEV = ("dev", "dev+openshift")
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")


def spin_manifest() -> dict:
    return tomllib.loads((ROOT / "spin.toml").read_text())


def base_secret() -> dict:
    return yaml.safe_load((DEPLOY / "base" / "secret.yaml").read_text())


def gateway_config() -> dict:
    return yaml.safe_load((DEPLOY / "base" / "config.yaml").read_text())


def spinapp(objects) -> dict:
    return one(objects, "SpinApp")


def variables(app: dict) -> dict[str, dict]:
    return {v["name"]: v for v in app["spec"]["variables"]}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def pod_labels_of(app: dict) -> dict:
    """The labels spin-operator puts on every pod of the app (its Deployment's selector)."""
    return {APP_NAME_LABEL: app["metadata"]["name"]}


def selects(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are used here"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


# --- schemas ---------------------------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_its_schema(rendered, overlay):
    errors = [e for obj in rendered[overlay] for e in validation_errors(obj)]
    assert not errors, "\n".join(errors)


def test_the_schemas_reject_a_misspelt_field(rendered):
    """Each kind's schema is strict: an unknown field is an error, not silently dropped."""
    seen = set()
    for obj in rendered["openshift+egress-firewall"] + rendered["dev"]:
        if obj["kind"] in seen:
            continue
        seen.add(obj["kind"])
        bad = copy.deepcopy(obj)
        if "spec" in bad:
            bad["spec"]["replicaz"] = 1
        else:
            bad["dataz"] = {}
        assert validation_errors(bad), f"{obj['kind']} accepted an unknown field"
    app = copy.deepcopy(spinapp(rendered["production"]))
    app["spec"]["checks"]["readiness"]["httpGet"]["paht"] = "/health"
    assert validation_errors(app)
    assert {"SpinApp", "SpinAppExecutor", "Route", "EgressFirewall", "NetworkPolicy",
            "HorizontalPodAutoscaler", "PodDisruptionBudget", "Deployment", "Service", "Secret",
            "ConfigMap", "PersistentVolumeClaim"} <= seen


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_in_the_gateways_namespace(rendered, overlay):
    for obj in rendered[overlay]:
        assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]


# --- the SpinApp and spin.toml ---------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_spinapp_variables_exist_in_spin_toml(rendered, overlay):
    declared = spin_manifest()["variables"]
    for name in variables(spinapp(rendered[overlay])):
        assert name in declared, f"{name} is not a variable of spin.toml"


def test_every_secret_variable_comes_from_the_secret(rendered):
    declared = spin_manifest()["variables"]
    bound = variables(spinapp(rendered["base"]))
    for name, spec in declared.items():
        if spec.get("secret"):
            assert name in bound, f"secret variable {name} is not bound"
            assert "secretKeyRef" in bound[name].get("valueFrom", {}), name
    # Without a master key the gateway refuses everything: the pod must not start without it.
    assert not bound["master_key"]["valueFrom"]["secretKeyRef"].get("optional", False)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_configmap_and_secret_references_resolve(rendered, overlay):
    objects = rendered[overlay]
    external = base_secret()
    for var in spinapp(objects)["spec"]["variables"]:
        source = var.get("valueFrom", {})
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            assert ref["key"] in one(objects, "ConfigMap", ref["name"])["data"], var
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secrets = find(objects, "Secret", ref["name"])
            if overlay in PRODUCTION:
                # Brought by the user (never applied from here): the base Secret documents its keys.
                assert not secrets
                assert ref["name"] == external["metadata"]["name"]
                assert ref["key"] in external["stringData"], var
            else:
                (secret,) = secrets
                assert ref["key"] in {**secret.get("data", {}), **secret.get("stringData", {})}, var


def test_production_applies_no_secret(rendered):
    for overlay in PRODUCTION:
        assert not find(rendered[overlay], "Secret"), overlay


def test_config_change_rolls_the_pods(rendered):
    """The ConfigMap's name carries its content's hash and the SpinApp follows it, so the operator
    rewrites the Deployment (a rollout) when the gateway config changes."""
    names = set()
    for overlay in OVERLAYS:
        objects = rendered[overlay]
        (config_map,) = find(objects, "ConfigMap")
        assert config_map["metadata"]["name"].startswith("llm-gateway-config-")
        ref = variables(spinapp(objects))["gateway_config"]["valueFrom"]["configMapKeyRef"]
        assert ref["name"] == config_map["metadata"]["name"]
        expected = LITELLM_CONFIG.read_text() if overlay == "readme-example" else (
            DEPLOY / "base" / "config.yaml").read_text()
        assert config_map["data"][ref["key"]] == expected
        names.add(config_map["metadata"]["name"])
    # Another config, another name: the SpinApp changes with it.
    assert len(names) == 2


def test_gateway_config_keys_are_bound_from_the_secret_under_litellm_names(rendered):
    """`api_key: os.environ/OPENAI_API_KEY` means the Spin variable openai_api_key, which the
    SpinApp binds from the Secret key OPENAI_API_KEY (LiteLLM's name), and which spin.toml maps
    into a provider component."""
    bound = variables(spinapp(rendered["base"]))
    components = spin_manifest()["component"]
    for entry in gateway_config()["model_list"]:
        key = entry["litellm_params"].get("api_key", "")
        if not key.startswith("os.environ/"):
            continue
        env = key.removeprefix("os.environ/")
        variable = env.lower()
        assert variable in bound, f"{entry['model_name']}: {variable} not bound"
        assert bound[variable]["valueFrom"]["secretKeyRef"]["key"] == env
        assert any(variable in c.get("variables", {}) for c in components.values()), variable


def test_gateway_config_origins_are_the_allowed_origins(rendered):
    """Each `api_base` must be the origin its provider component may reach (spin.toml's
    allowed_outbound_hosts come from the *_origin variables)."""
    declared = spin_manifest()["variables"]
    bound = variables(spinapp(rendered["base"]))

    def value(name):
        return bound[name]["value"] if name in bound else declared[name]["default"]

    for entry in gateway_config()["model_list"]:
        params = entry["litellm_params"]
        provider = params["model"].split("/", 1)[0]
        assert provider in {"openai", "hosted_vllm", "anthropic", "gemini"}, params["model"]
        if "api_base" not in params:
            continue
        variable = {"openai": "openai_compatible_origin", "hosted_vllm": "openai_compatible_origin",
                    "anthropic": "anthropic_origin", "gemini": "gemini_origin"}[provider]
        assert origin(params["api_base"]) == value(variable), entry["model_name"]


def test_manifest_uses_only_spin_3_6_features():
    manifest = spin_manifest()
    assert manifest["spin_manifest_version"] == 2
    for name, component in manifest["component"].items():
        for dep in component.get("dependencies", {}).values():
            # Spin 4's per-dependency inherit_configuration is unknown to Spin 3.6 (SpinKube's shim).
            assert "inherit_configuration" not in dep, name
        assert "dependencies_inherit_configuration" not in component or component.get("dependencies")


def test_an_overlays_images_entry_sets_the_apps_image(rendered):
    assert spinapp(rendered["production"])["spec"]["image"] == "ghcr.io/example/llm-gateway:0.1.0"
    assert spinapp(rendered["openshift+egress-firewall"])["spec"]["image"] == (
        "quay.io/acme/llm-gateway:1.2.3")
    assert spinapp(rendered["readme-example"])["spec"]["image"] == "quay.io/acme/llm-gateway:0.1.0"


# --- executor, replicas, probes --------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_executor_is_in_the_namespace_and_installs_ca_certificates(rendered, overlay):
    objects = rendered[overlay]
    executor = one(objects, "SpinAppExecutor", spinapp(objects)["spec"]["executor"])
    assert executor["spec"]["createDeployment"] is True
    config = executor["spec"]["deploymentConfig"]
    assert config.get("runtimeClassName") and not config.get("spinImage")
    # The providers are HTTPS: the shim's Spin needs a CA bundle in the pod.
    assert config.get("installDefaultCACerts") or config.get("caCertSecret")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_follow_the_operators_rules(rendered, overlay):
    """spin-operator's webhook: replicas unset with enableAutoscaling, else at least 1."""
    spec = spinapp(rendered[overlay])["spec"]
    if spec.get("enableAutoscaling"):
        assert not spec.get("replicas")
    else:
        assert spec["replicas"] >= 1
    if overlay in DEV:
        assert spec["replicas"] == 1 and not spec.get("enableAutoscaling")
    if overlay in PRODUCTION:
        assert spec.get("enableAutoscaling") is True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_use_the_gateway_and_spin_health_endpoints(rendered, overlay):
    checks = spinapp(rendered[overlay])["spec"]["checks"]
    assert checks["readiness"]["httpGet"]["path"] == "/health/readiness"
    assert checks["liveness"]["httpGet"]["path"] == "/.well-known/spin/health"
    # The gateway's readiness check asks each provider component (5 s timeout each at worst).
    assert checks["readiness"].get("timeoutSeconds", 1) >= 2


def test_production_autoscales_the_operators_deployment(rendered):
    for overlay in PRODUCTION:
        objects = rendered[overlay]
        app = spinapp(objects)
        hpa = one(objects, "HorizontalPodAutoscaler")
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"], target["name"]) == (
            "apps/v1", "Deployment", app["metadata"]["name"])
        assert hpa["spec"]["minReplicas"] >= 2
        # Utilization targets are relative to requests.
        requests = app["spec"]["resources"]["requests"]
        for metric in hpa["spec"]["metrics"]:
            assert metric["resource"]["name"] in requests
        assert app["spec"]["resources"]["limits"]["memory"]
        pdb = one(objects, "PodDisruptionBudget")
        assert selects(pdb["spec"]["selector"], pod_labels_of(app))
        assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


# --- runtime config and stores ---------------------------------------------------------------

def store_labels() -> tuple[set, set]:
    """Key-value store and SQLite database labels the components of spin.toml use."""
    components = spin_manifest()["component"].values()
    kv = {label for c in components for label in c.get("key_value_stores", [])}
    sql = {label for c in components for label in c.get("sqlite_databases", [])}
    return kv, sql


def mounted_volume(app: dict, path: str) -> dict:
    """The SpinApp volume whose mount holds `path`."""
    mounts = [m for m in app["spec"].get("volumeMounts", [])
              if path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert len(mounts) == 1, f"{path} is on no volume of the SpinApp"
    (volume,) = [v for v in app["spec"]["volumes"] if v["name"] == mounts[0]["name"]]
    return volume


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_runtime_config_defines_every_store_the_app_uses(rendered, overlay):
    objects = rendered[overlay]
    app = spinapp(objects)
    rc = operator_runtime_config(app, objects)
    kv_labels, sql_labels = store_labels()
    assert kv_labels <= set(rc["key_value_store"]), kv_labels
    assert sql_labels <= set(rc["sqlite_database"]), sql_labels
    # `local` is each replica's own memory: never shared, never a file.
    assert rc["key_value_store"]["local"] == {"type": "spin"}
    # The request log has a real place: a file on a volume of the pod.
    log = rc["sqlite_database"]["default"]
    assert log["type"] == "spin" and log["path"].startswith("/")
    volume = mounted_volume(app, log["path"])
    if overlay in MULTI_REPLICA:
        # Replicas share keys, spend and rate-limit windows through Redis.
        for label in ("default", "limits"):
            assert rc["key_value_store"][label]["type"] == "redis", label
        assert "emptyDir" in volume
    else:
        assert "redis" not in str(rc)
        assert rc["key_value_store"]["limits"] == {"type": "spin"}
        default = rc["key_value_store"]["default"]
        assert default["type"] == "spin" and default["path"].startswith("/")
        assert mounted_volume(app, default["path"]) == volume
        claim = volume["persistentVolumeClaim"]["claimName"]
        assert one(objects, "PersistentVolumeClaim", claim)


def test_production_runtime_config_is_deploy_runtime_config_redis_toml(rendered):
    """The stores tests/spin/test_redis_replicas.py runs two Spin replicas on are the SpinApp's."""
    redis_file = tomllib.loads((DEPLOY / "runtime-config.redis.toml").read_text())
    for overlay in MULTI_REPLICA:
        objects = rendered[overlay]
        rc = operator_runtime_config(spinapp(objects), objects)
        assert rc["key_value_store"] == redis_file["key_value_store"], overlay


@pytest.mark.parametrize("overlay", MULTI_REPLICA)
def test_the_redis_url_names_the_redis_service(rendered, overlay):
    objects = rendered[overlay]
    rc = operator_runtime_config(spinapp(objects), objects)
    service = one(objects, "Service", "redis")
    deployment = one(objects, "Deployment", "redis")
    (port,) = service["spec"]["ports"]
    for label in ("default", "limits"):
        url = urlsplit(rc["key_value_store"][label]["url"])
        assert url.scheme == "redis"
        assert url.hostname == f"{service['metadata']['name']}.{NAMESPACE}.svc.cluster.local"
        assert url.port == port["port"]
    pod = deployment["spec"]["template"]
    assert selects({"matchLabels": service["spec"]["selector"]}, pod["metadata"]["labels"])
    (container,) = pod["spec"]["containers"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}


def test_dev_has_no_redis(rendered):
    for overlay in DEV:
        objects = rendered[overlay]
        assert not find(objects, "Deployment") and not find(objects, "Service")


def test_redis_runs_unprivileged_and_without_a_fixed_uid_on_openshift(rendered):
    def pod_security(overlay):
        return one(rendered[overlay], "Deployment", "redis")["spec"]["template"]["spec"][
            "securityContext"]

    assert pod_security("production")["runAsNonRoot"] is True
    assert pod_security("production")["runAsUser"] != 0
    for overlay in ("openshift", "openshift+egress-firewall"):
        security = pod_security(overlay)
        assert security["runAsNonRoot"] is True
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(security), overlay


# --- network ---------------------------------------------------------------------------------

def egress_rules(objects, app) -> list[dict]:
    policies = [p for p in find(objects, "NetworkPolicy")
                if "Egress" in p["spec"].get("policyTypes", [])
                and selects(p["spec"]["podSelector"], pod_labels_of(app))]
    assert len(policies) == 1
    return policies[0]["spec"]["egress"]


def allows(rule: dict, protocol: str, port: int) -> bool:
    return any(p.get("protocol", "TCP") == protocol and p["port"] == port for p in rule["ports"])


@pytest.mark.parametrize("overlay", PRODUCTION)
def test_egress_allows_only_dns_redis_and_the_providers(rendered, overlay):
    objects = rendered[overlay]
    app = spinapp(objects)
    rules = egress_rules(objects, app)
    # No rule without ports (which would open every port to its peers).
    assert all(rule.get("ports") for rule in rules)
    # DNS.
    assert any(allows(r, "UDP", 53) and allows(r, "TCP", 53) for r in rules)
    # Redis: the pods of the Redis Deployment, on its port.
    redis = one(objects, "Deployment", "redis")["spec"]["template"]
    redis_port = redis["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert any(allows(r, "TCP", redis_port) and any(
        "podSelector" in peer and "namespaceSelector" not in peer
        and selects(peer["podSelector"], redis["metadata"]["labels"]) for peer in r["to"])
        for r in rules)
    # Every in-cluster model server the config names: its namespace, its port.
    for entry in gateway_config()["model_list"]:
        base = entry["litellm_params"].get("api_base")
        if not base or ".svc" not in urlsplit(base).hostname:
            continue
        url = urlsplit(base)
        namespace = url.hostname.split(".")[1]
        assert any(allows(r, "TCP", url.port) and any(
            peer.get("namespaceSelector", {}).get("matchLabels", {}).get(
                "kubernetes.io/metadata.name") == namespace for peer in r["to"]) for r in rules), base
    # The providers' HTTPS origins: port 443 to public addresses only.
    https = [r for r in rules if allows(r, "TCP", 443)]
    assert len(https) == 1 and len(https[0]["ports"]) == 1
    (peer,) = https[0]["to"]
    block = peer["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    excepted = [ipaddress.ip_network(c) for c in block["except"]]
    for private in PRIVATE_RANGES:
        assert any(ipaddress.ip_network(private).subnet_of(e) for e in excepted), private
    # The only ipBlock rule is that one: nothing else leaves the cluster.
    others = [p for r in rules if r is not https[0] for p in r["to"] if "ipBlock" in p]
    assert not others


@pytest.mark.parametrize("overlay", PRODUCTION)
def test_redis_accepts_only_the_gateway(rendered, overlay):
    objects = rendered[overlay]
    app = spinapp(objects)
    redis = one(objects, "Deployment", "redis")["spec"]["template"]
    (policy,) = [p for p in find(objects, "NetworkPolicy")
                 if selects(p["spec"]["podSelector"], redis["metadata"]["labels"])]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer == {"podSelector": {"matchLabels": pod_labels_of(app)}}


def test_the_egress_firewall_allows_exactly_the_provider_hosts(rendered):
    firewall = one(rendered["openshift+egress-firewall"], "EgressFirewall", "default")
    rules = firewall["spec"]["egress"]
    declared = spin_manifest()["variables"]
    providers = {urlsplit(declared[v]["default"]).hostname
                 for v in ("openai_origin", "anthropic_origin", "gemini_origin")}
    allowed = {r["to"]["dnsName"] for r in rules if r["type"] == "Allow"}
    assert allowed == providers
    for rule in rules[:-1]:
        assert rule["type"] == "Allow" and rule["ports"] == [{"protocol": "TCP", "port": 443}]
    assert rules[-1] == {"type": "Deny", "to": {"cidrSelector": "0.0.0.0/0"}}


@pytest.mark.parametrize("overlay", ("openshift", "dev+openshift", "openshift+egress-firewall",
                                     "readme-example"))
def test_the_route_reaches_the_operators_service(rendered, overlay):
    objects = rendered[overlay]
    route = one(objects, "Route")
    assert route["spec"]["to"] == {"kind": "Service", "name": spinapp(objects)["metadata"]["name"],
                                   "weight": 100}
    assert route["spec"]["port"]["targetPort"] == OPERATOR_HTTP_PORT
    assert route["spec"]["tls"]["termination"] == "edge"
    assert route["spec"]["tls"]["insecureEdgeTerminationPolicy"] == "Redirect"
    # HAProxy's default (30 s idle) would cut long completions and slow streams.
    timeout = route["metadata"]["annotations"]["haproxy.router.openshift.io/timeout"]
    assert timeout.endswith("s") and int(timeout[:-1]) >= 600


# --- no secrets in the repository ------------------------------------------------------------

def test_the_repository_holds_no_real_keys(rendered):
    assert all(value == "" for value in base_secret()["stringData"].values())
    example = DEPLOY / "overlays" / "dev" / "keys.env.example"
    for line in example.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert value == "" or "change-me" in value, name
    # What the dev overlay applies is what keys.env says (here: the example).
    (secret,) = find(rendered["dev"], "Secret")
    for name, value in secret["data"].items():
        decoded = base64.b64decode(value).decode()
        assert decoded == "" or "change-me" in decoded, name
    # The dev keys file is never committed.
    check = subprocess.run(["git", "check-ignore", "-q", "deploy/overlays/dev/keys.env"], cwd=ROOT)
    if check.returncode != 128:  # 128: not a git checkout
        assert check.returncode == 0, "deploy/overlays/dev/keys.env is not git-ignored"
