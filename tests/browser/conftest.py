"""Fixtures of the browser test: the built book served on 127.0.0.1, and headless Chromium.

The browser is Debian's ``chromium`` (``make browser-deps``), driven by Playwright; nothing is
downloaded. Every request that leaves 127.0.0.1 is aborted and recorded, so the test also
proves that the book works offline.
"""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"


def chromium_executable() -> str:
    """Debian's chromium binary (the /usr/bin/chromium wrapper script also works)."""
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    raise pytest.UsageError("chromium is not installed: run `make browser-deps` "
                            "(apt-get install chromium)")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output readable
        pass


@pytest.fixture(scope="session")
def site():
    """Base URL of ``_build/html`` served by a local HTTP server (a free port on 127.0.0.1)."""
    if not (HTML / "index.html").exists():
        raise pytest.UsageError(f"{HTML}/index.html is missing: run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=chromium_executable(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        yield chrome
        chrome.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
