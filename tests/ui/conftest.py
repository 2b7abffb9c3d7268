"""Real-browser tests of the operator console (`/ui`): Playwright for Python driving Debian's
Chromium (`/usr/bin/chromium`, installed by ./scripts/test; Playwright's own browser download is
not used) with a fresh profile, against the gateway on the host `GATEWAY_HOST` names
(./scripts/test: real Spin)."""

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hosts import host_name, start_gateway, start_mock  # noqa: E402
from ui_support import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, Console, ui_config  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)


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


@pytest.fixture
def console(browser_context, gateway):
    page = browser_context.new_page()
    c = Console(page, gateway.url)
    yield c
    if page.url.startswith("http"):
        page.evaluate("sessionStorage.clear()")
    page.close()
    c.clean()
