"""Real-browser tests of the operator console (`/ui`): Playwright for Python driving Debian's
Chromium (`/usr/bin/chromium`, installed by ./scripts/test; Playwright's own browser download is
not used) against the gateway on the host `GATEWAY_HOST` names (./scripts/test: real Spin)."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))

from hosts import MASTER_KEY, default_config, host_name, start_gateway, start_mock  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A model name and a key alias that would run script if a page inserted them as HTML.
XSS_MODEL = "xss-<script>alert('model')</script>&amp;<b>"
XSS_ALIAS = "team-<img src=x onerror=alert('alias')>&lt;&amp;"
VIEWPORT = {"width": 1280, "height": 800}


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)


def ui_config(mock: str) -> str:
    quoted = XSS_MODEL.replace("'", "''")
    return default_config(mock).replace("router_settings:", f"""  - model_name: '{quoted}'
    litellm_params: {{model: openai/gpt-4o-mini}}
    model_info: {{id: xss-deployment, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}
router_settings:""", 1)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory):
    mock = start_mock()
    g = start_gateway(tmp_path_factory.mktemp(f"ui-{host_name()}"), mock.url, config=ui_config(mock.url))
    yield g
    g.stop()
    mock.stop()


@pytest.fixture(scope="session")
def browser_context():
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="console-chromium-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport=VIEWPORT, device_scale_factor=1)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


class Console:
    """A page of the console, recording what a test must never see: script dialogs, CSP
    violations, requests to any other origin, uncaught errors."""

    def __init__(self, page, origin: str):
        self.page = page
        self.dialogs, self.problems, self.foreign = [], [], []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: self.problems.append(m.text)
                if m.type == "error" and ("Content Security Policy" in m.text or "Uncaught" in m.text) else None)
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith((origin, "data:")) else self.foreign.append(r.url))

    def clean(self):
        assert self.dialogs == [], f"a script ran: {self.dialogs}"
        assert self.problems == [], self.problems
        assert self.foreign == [], f"requests to other origins: {self.foreign}"


@pytest.fixture
def console(browser_context, gateway):
    page = browser_context.new_page()
    c = Console(page, gateway.url)
    yield c
    page.evaluate("sessionStorage.clear()") if page.url.startswith("http") else None
    page.close()
    c.clean()


def sign_in(page, ui_url: str, key: str = MASTER_KEY):
    page.goto(ui_url)
    page.fill("input[name=master_key]", key)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("nav")
