"""What the console's browser tests share: Chromium's settings, hostile names, the page wrapper
that records what must never happen, and signing in."""

import os

from hosts import MASTER_KEY, default_config

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A model name and a key alias that would run script if a page inserted them as HTML.
XSS_MODEL = "xss-<script>alert('model')</script>&amp;<b>"
XSS_ALIAS = "team-<img src=x onerror=alert('alias')>&lt;&amp;"
VIEWPORT = {"width": 1280, "height": 800}


def ui_config(mock: str) -> str:
    """The SDK tests' config plus a YAML model with a hostile name."""
    quoted = XSS_MODEL.replace("'", "''")
    return default_config(mock).replace("router_settings:", f"""  - model_name: '{quoted}'
    litellm_params: {{model: openai/gpt-4o-mini}}
    model_info: {{id: xss-deployment, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}
router_settings:""", 1)


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


def sign_in(page, ui_url: str, key: str = MASTER_KEY):
    page.goto(ui_url)
    page.fill("input[name=master_key]", key)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("nav")
