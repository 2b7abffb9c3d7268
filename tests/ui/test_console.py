"""The operator console in a real browser: sign-in, keys (shown once, limits, revoke), requests
(filters, paging, detail), overview charts, runtime models, read-only YAML models, escaping,
a path prefix, cross-origin refusal. Calls to the gateway go through the official openai SDK."""

import json
import os
import re
from datetime import datetime, timedelta, timezone
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
from hosts import MASTER_KEY
from playwright.sync_api import expect
from proxy import PrefixProxy
from ui_support import XSS_ALIAS, XSS_MODEL, sign_in

ROOT = Path(__file__).resolve().parents[2]


def admin(gateway, path, body=None, method=None, key=MASTER_KEY):
    request = urllib.request.Request(
        f"{gateway.url}/{path}", method=method or ("POST" if body is not None else "GET"),
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def client(gateway, key=MASTER_KEY):
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)


def chat(gateway, key=MASTER_KEY, model="gpt-test"):
    return client(gateway, key).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Hello"}])


def ui(gateway):
    return f"{gateway.url}/ui/"


def test_sign_in_keeps_the_key_in_session_storage_only(console, gateway):
    page = console.page
    page.goto(ui(gateway))
    page.fill("input[name=master_key]", "sk-wrong")
    page.click("button:has-text('Sign in')")
    expect(page.locator(".error")).to_contain_text("Only the master key")
    expect(page.locator("nav")).to_have_count(0)
    sign_in(page, ui(gateway))
    expect(page.locator("nav a.active")).to_have_text("Overview")
    assert page.evaluate("sessionStorage.getItem('llm-gateway.master-key')") == MASTER_KEY
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    assert page.context.cookies() == []
    csp = page.evaluate("fetch('index.html').then(r => r.headers.get('content-security-policy'))")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_a_wrong_or_rotated_master_key_returns_to_sign_in(console, gateway):
    page = console.page
    sign_in(page, ui(gateway))
    page.evaluate("sessionStorage.setItem('llm-gateway.master-key', 'sk-rotated-away')")
    page.click("nav a:has-text('Keys')")
    expect(page.locator("input[name=master_key]")).to_be_visible()
    expect(page.locator(".error")).to_contain_text("Signed out")
    assert page.evaluate("sessionStorage.length") == 0


def test_create_a_key_see_it_once_and_see_its_requests(console, gateway):
    page = console.page
    sign_in(page, ui(gateway) + "#/keys")
    page.click("button:has-text('Create key')")
    page.fill("aside input[name=key_alias]", "console-once")
    page.click("aside button:has-text('Create')")
    secret = page.locator("input.secret")
    expect(secret).to_be_visible()
    key = secret.input_value()
    assert key.startswith("sk-")
    expect(page.locator(".warning")).to_contain_text("shown once")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("button:has-text('Copy')")
    expect(page.get_by_text("Copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    page.click("button:has-text('Done')")
    expect(page.locator("aside h2")).to_have_text("console-once")
    assert key not in page.content(), "the key is never shown again"
    assert key[3:12] not in page.content()

    answer = chat(gateway, key)
    assert answer.choices[0].message.content
    page.click("nav a:has-text('Requests')")
    row = page.locator("tbody tr", has_text="console-once").first
    expect(row).to_be_visible()
    row.click()
    expect(page.locator("aside dl")).to_contain_text("gpt-test")
    expect(page.locator("aside dl")).to_contain_text("request_id")

    # The key's spend shows on its page.
    page.click("nav a:has-text('Keys')")
    page.click("tbody tr:has-text('console-once')")
    expect(page.locator("aside dd.spend")).to_contain_text("$")

    page.click("nav a:has-text('Overview')")
    expect(page.locator(".stat strong").first).not_to_have_text("0")
    expect(page.locator(".overview > table")).to_contain_text("gpt-test")
    expect(page.locator(".chart canvas").first).to_be_visible()


def test_requests_filter_and_page(console, gateway):
    for _ in range(3):
        chat(gateway, model="claude-test")
    for _ in range(12):
        chat(gateway, model="gpt-test")
    page = console.page
    sign_in(page, ui(gateway) + "#/requests")
    page.select_option("select[name=limit]", "10")
    page.click("button:has-text('Apply')")
    expect(page.locator("tbody tr")).to_have_count(10)
    page.locator("input[name=live]").uncheck()
    first = page.locator("tbody tr").first.get_attribute("aria-label")
    page.click("button:has-text('Older')")
    expect(page.locator(".toolbar")).to_contain_text("page 2")
    expect(page.locator("tbody tr").first).not_to_have_attribute("aria-label", first)
    page.click("button:has-text('Newer')")
    expect(page.locator("tbody tr").first).to_have_attribute("aria-label", first)

    # Filters are the server's: model (paged with the filter kept), status and dates.
    page.fill("input[name=model]", "gpt-test")
    page.click("button:has-text('Apply')")
    expect(page.locator("tbody tr")).to_have_count(10)
    page.click("button:has-text('Older')")
    expect(page.locator(".toolbar")).to_contain_text("page 2")
    expect(page.locator("tbody tr").first).to_be_visible()
    for text in page.locator("tbody tr").all_inner_texts():
        assert "gpt-test" in text
    page.fill("input[name=model]", "claude-test")
    page.click("button:has-text('Apply')")
    expect(page.locator("tbody tr").first).to_contain_text("claude-test")
    for text in page.locator("tbody tr").all_inner_texts():
        assert "claude-test" in text
    page.fill("input[name=status]", "200")
    page.click("button:has-text('Apply')")
    expect(page.locator("tbody tr").first).to_contain_text("claude-test")
    page.fill("input[name=status]", "429")
    page.click("button:has-text('Apply')")
    expect(page.get_by_text("No requests match.")).to_be_visible()
    page.fill("input[name=status]", "")
    today = datetime.now(timezone.utc).date()
    page.fill("input[name=start_date]", today.isoformat())
    page.click("button:has-text('Apply')")
    expect(page.locator("tbody tr").first).to_contain_text("claude-test")
    yesterday = (today - timedelta(days=1)).isoformat()
    page.fill("input[name=start_date]", yesterday)
    page.fill("input[name=end_date]", yesterday)
    page.click("button:has-text('Apply')")
    expect(page.get_by_text("No requests match.")).to_be_visible()
    # A bad filter shows the API's message.
    page.fill("input[name=start_date]", "")
    page.fill("input[name=end_date]", "")
    page.fill("input[name=status]", "teapot")
    page.click("button:has-text('Apply')")
    expect(page.locator(".status .error")).to_contain_text("status")


def test_edit_limits_then_429_and_revoke_then_401(console, gateway):
    status, created = admin(gateway, "key/generate", {"key_alias": "console-limits", "team_id": "console-team"})
    assert status == 200
    key = created["key"]
    page = console.page
    sign_in(page, ui(gateway) + "#/keys")
    page.select_option("select[name=search_by]", "team_id")
    page.fill("input[name=q]", "console-team")
    page.click("button:has-text('Search')")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("console-limits")
    page.select_option("select[name=search_by]", "key_alias")
    page.fill("input[name=q]", "console-limits")
    page.click("button:has-text('Search')")
    page.click("tbody tr:has-text('console-limits')")
    page.fill("aside input[name=rpm_limit]", "1")
    page.click("aside button:has-text('Save')")
    expect(page.get_by_text("Saved.")).to_be_visible()
    # Bad input: the API's message is shown.
    page.fill("aside input[name=budget_duration]", "soon")
    page.click("aside button:has-text('Save')")
    expect(page.locator("aside .error")).to_contain_text("budget_duration")
    page.fill("aside input[name=budget_duration]", "")

    chat(gateway, key)
    with pytest.raises(openai.RateLimitError):
        chat(gateway, key)

    page.click("aside button:has-text('Revoke')")
    page.click("aside button:has-text('Click again to revoke')")
    expect(page.get_by_text("Key revoked")).to_be_visible()
    with pytest.raises(openai.AuthenticationError):
        chat(gateway, key)


def test_add_a_runtime_model_and_call_it(console, gateway):
    page = console.page
    sign_in(page, ui(gateway) + "#/models")
    page.click("button:has-text('Add model')")
    page.fill("aside input[name=model_name]", "console-runtime")
    page.fill("aside input[name=model]", "gpt-4o-mini")
    page.select_option("aside select[name=api_key]", "os.environ/OPENAI_API_KEY")
    page.click("aside button:has-text('Add')")
    # The loader's own error, shown as it is.
    expect(page.locator("aside .error")).to_contain_text("no provider prefix")
    page.fill("aside input[name=model]", "openai/gpt-4o-mini")
    page.fill("aside input[name=input_cost_per_token]", "0.000001")
    page.click("aside button:has-text('Add')")
    expect(page.locator("aside [role=status]")).to_contain_text("Added")
    group = page.locator("section.group", has_text="console-runtime")
    expect(group.locator(".badge.runtime")).to_be_visible()
    expect(group).to_contain_text("$1.00")

    assert chat(gateway, model="console-runtime").choices[0].message.content

    page.click("nav a:has-text('Try it')")
    page.select_option("select[name=model]", "console-runtime")
    page.click("button:has-text('Send')")
    expect(page.locator(".answer")).not_to_be_empty()
    expect(page.locator(".stats")).to_contain_text("Time to first token")
    expect(page.locator(".stats .stat", has_text="Cost")).to_contain_text("$")
    # The cost is the row of this answer's call id.
    call_id = page.locator(".stats code").inner_text()
    status, rows = admin(gateway, f"spend/logs?request_id={call_id}")
    assert status == 200 and len(rows) == 1 and rows[0]["model"] == "console-runtime"

    page.click("nav a:has-text('Models')")
    group = page.locator("section.group", has_text="console-runtime")
    group.locator("button:has-text('Edit')").click()
    page.fill("aside input[name=rpm]", "7")
    page.click("aside button:has-text('Save')")
    expect(page.locator("aside [role=status]")).to_contain_text("Saved")
    expect(page.locator("section.group", has_text="console-runtime")).to_contain_text("7 / –")
    group = page.locator("section.group", has_text="console-runtime")
    group.locator("button:has-text('Delete')").click()
    group.locator("button:has-text('Confirm delete')").click()
    expect(page.locator("section.group", has_text="console-runtime")).to_have_count(0)
    with pytest.raises(openai.NotFoundError):
        chat(gateway, model="console-runtime")


def test_a_yaml_model_cannot_be_edited(console, gateway):
    page = console.page
    sign_in(page, ui(gateway) + "#/models")
    group = page.locator("section.group", has=page.locator("h2", has_text=re.compile("^gpt-test")))
    expect(group.locator(".badge", has_text="YAML · read-only")).to_be_visible()
    expect(group.locator("button:has-text('Edit')")).to_have_count(0)
    _, info = admin(gateway, "model/info")
    yaml_id = next(m["model_info"]["id"] for m in info["data"] if m["model_name"] == "gpt-test")
    status, error = admin(gateway, f"model/{yaml_id}/update", {"litellm_params": {"rpm": 1}}, method="PATCH")
    assert status == 403 and error["error"]["code"] == "model_read_only"


def test_hostile_names_render_as_text(console, gateway):
    assert admin(gateway, "key/generate", {"key_alias": XSS_ALIAS})[0] == 200
    chat(gateway, model=XSS_MODEL)
    page = console.page
    sign_in(page, ui(gateway) + "#/models")
    expect(page.locator("section.group h2", has_text=XSS_MODEL)).to_be_visible()
    page.click("nav a:has-text('Keys')")
    page.fill("input[name=q]", XSS_ALIAS)
    page.click("button:has-text('Search')")
    expect(page.locator("tbody td", has_text=XSS_ALIAS)).to_be_visible()
    page.click("nav a:has-text('Requests')")
    expect(page.locator("tbody td", has_text=XSS_MODEL).first).to_be_visible()
    page.click("nav a:has-text('Health')")
    expect(page.locator("td", has_text=XSS_MODEL).first).to_be_visible()
    page.click("nav a:has-text('Try it')")
    expect(page.locator("select[name=model] option", has_text=XSS_MODEL)).to_have_count(1)
    # Only the console's own scripts exist; no element came from data.
    assert page.evaluate("[...document.scripts].every(s => new URL(s.src).pathname.includes('/ui/'))")
    assert page.evaluate("document.querySelectorAll('main img, main b').length") == 0


def test_works_under_a_path_prefix(console, gateway):
    proxy = PrefixProxy(gateway.url, "/tools/llm")
    try:
        page = console.page
        console.foreign.clear()
        page.on("request", lambda r: None)
        page.goto(f"{proxy.url}/ui")
        assert page.url == f"{proxy.url}/ui/"
        page.fill("input[name=master_key]", MASTER_KEY)
        page.click("button:has-text('Sign in')")
        page.click("nav a:has-text('Keys')")
        expect(page.locator("table")).to_be_visible()
        page.click("nav a:has-text('Health')")
        expect(page.locator(".stat strong").first).to_have_text("healthy")
        paths = [p for p in proxy.seen]
        assert any(p.startswith("/tools/llm/key/list") for p in paths), paths
        assert any(p == "/tools/llm/health" for p in paths), paths
        assert all(p.startswith("/tools/llm/") or p == "/tools/llm" for p in paths), paths
    finally:
        console.foreign[:] = [u for u in console.foreign if not u.startswith(proxy.url)]
        proxy.stop()


def test_the_admin_api_refuses_other_origins(console, gateway):
    # A page of another origin (the proxy's port) calls the gateway with the master key: the
    # gateway allows no other origin (no CORS headers), so the browser never lets it read.
    proxy = PrefixProxy(gateway.url, "/other")
    try:
        page = console.page
        page.goto(proxy.url.replace("/other", "/blank"))
        result = page.evaluate("""url => fetch(url + '/key/list', {headers: {authorization: 'Bearer %s'}})
            .then(r => 'answered ' + r.status, e => 'blocked: ' + e.message)""" % MASTER_KEY, gateway.url)
        assert result.startswith("blocked"), result
        result = page.evaluate("url => fetch(url + '/key/list').then(r => 'answered ' + r.status, e => 'blocked')",
                               gateway.url)
        assert result == "blocked", result
    finally:
        console.foreign.clear()
        proxy.stop()


@pytest.mark.skipif(not os.environ.get("CONSOLE_SCREENSHOTS"), reason="set CONSOLE_SCREENSHOTS=<dir> to save them")
def test_screenshots(console, gateway):
    out = Path(os.environ["CONSOLE_SCREENSHOTS"])
    out.mkdir(parents=True, exist_ok=True)
    admin(gateway, "key/generate", {"key_alias": "team-a", "rpm_limit": 60, "max_budget": 25})
    for model in ["gpt-test", "claude-test", "gemini-test", "llama-test", "pair", "broken"]:
        for _ in range(3):
            chat(gateway, model=model)
    page = console.page
    page.goto(ui(gateway))
    page.screenshot(path=str(out / "console-signin.png"))
    sign_in(page, ui(gateway))
    for name in ["overview", "requests", "keys", "models", "health", "try"]:
        page.goto(f"{ui(gateway)}#/{name}")
        page.wait_for_load_state("networkidle")
        if name == "requests":
            page.locator("tbody tr").first.click()
        if name == "keys":
            page.locator("tbody tr").first.click()
        if name == "try":
            page.select_option("select[name=model]", "gpt-test")
            page.click("button:has-text('Send')")
            expect(page.locator(".stats .stat", has_text="Cost")).not_to_contain_text("…")
        page.wait_for_timeout(400)
        page.screenshot(path=str(out / f"console-{name}.png"))
