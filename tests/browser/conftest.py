"""One headless Chromium for the session and one tab reused by every browser test; skipped,
with the reason, when Chromium is not installed or cannot start."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from conftest import stop_process_group

from .cdp import Browser, CDPError, Page, devtools_port, launch

VIEWPORT = (1280, 900)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not on PATH (`make test` installs Debian's package when it runs as root "
                    "or with passwordless sudo; else `apt-get install chromium`)")
    profile = tmp_path_factory.mktemp("chromium") / "profile"
    profile.mkdir()
    process = launch(executable, profile)
    try:
        try:
            port = devtools_port(process, profile)
        except CDPError as exc:
            pytest.skip(f"chromium ({executable}) could not start: {exc}")
        yield Browser(port)
    finally:
        stop_process_group(process)


@pytest.fixture(scope="session")
def page(browser: Browser) -> Page:
    """The one tab, at a fixed viewport size."""
    tab = browser.new_page()
    tab.set_viewport(*VIEWPORT)
    return tab

