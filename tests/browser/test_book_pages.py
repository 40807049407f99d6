"""The HTML book as a reader meets it: every page of the table of contents, in Chromium.

For each page: it loads (HTTP 200), has a title and a heading, every image is loaded
(naturalWidth > 0), MathJax typeset every formula without errors (no ``mjx-merror``/``merror``
node, no formula left as raw TeX), the console shows no error, nothing is requested from
outside 127.0.0.1, and every internal link (and its #anchor) resolves. A full-page
screenshot is saved as ``_build/screenshots/<page>.png`` for a person to look at.

Run with ``make browser-test`` (after ``make book``).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import chapters  # noqa: E402

PAGES = chapters.toc_pages()
MATHJAX_TIMEOUT_MS = 60_000


class _Ids(HTMLParser):
    """Collects the ids and names of a page (anchor targets)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)


def _fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, ""


def visit(browser, url: str):
    """Open ``url`` in a fresh context; return (page, response, console errors, external
    requests), after MathJax has finished and all images have settled."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    external: list[str] = []

    def route(r):
        if urlparse(r.request.url).hostname in ("127.0.0.1", "localhost") \
                or r.request.url.startswith(("data:", "blob:", "about:")):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    response = page.goto(url, wait_until="load")
    if page.locator("script[src*='mathjax']").count():  # Sphinx loads it where there is math
        page.wait_for_function("() => window.MathJax && MathJax.startup && "
                               "MathJax.startup.promise", timeout=MATHJAX_TIMEOUT_MS)
        page.evaluate("() => MathJax.startup.promise")
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    return page, response, errors, external


@pytest.mark.parametrize("page_name", PAGES)
def test_page(page_name, browser, site, screenshots):
    url = f"{site}/{page_name}.html"
    page, response, errors, external = visit(browser, url)
    try:
        assert response is not None and response.status == 200, f"{url}: HTTP " \
            f"{None if response is None else response.status}"
        assert page.title().strip(), f"{page_name}: empty <title>"
        assert page.locator("main h1").count() >= 1, f"{page_name}: no <h1> heading"

        broken = page.evaluate("""() => Array.from(document.images)
            .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)""")
        assert not broken, f"{page_name}: images not loaded: {broken}"

        merrors = page.locator("mjx-merror, .merror, [data-mjx-error]").count()
        assert merrors == 0, f"{page_name}: {merrors} MathJax error node(s)"
        raw_tex = page.evaluate("""() => Array.from(document.querySelectorAll(
            'main .math, main span.math, main div.math'))
            .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60))""")
        assert not raw_tex, f"{page_name}: formulas not typeset by MathJax: {raw_tex}"

        assert not errors, f"{page_name}: console errors: {errors}"
        assert not external, f"{page_name}: requests outside 127.0.0.1 (offline?): {external}"

        links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'))"
                              ".map(a => a.href)")
        bad = []
        ids_of: dict[str, set[str]] = {}
        for href in sorted(set(links)):
            if not href.startswith(site):
                continue  # external links (repository, Binder, DOI) are not followed offline
            target, fragment = urldefrag(urljoin(url, href))
            if target not in ids_of:
                status, body = _fetch(target)
                if status != 200:
                    bad.append(f"{href} (HTTP {status})")
                    ids_of[target] = set()
                    continue
                parser = _Ids()
                parser.feed(body)
                ids_of[target] = parser.ids
            if fragment and fragment not in ids_of[target] and target.endswith(".html"):
                bad.append(f"{href} (no anchor #{fragment})")
        assert not bad, f"{page_name}: internal links that do not resolve: {bad}"
    finally:
        out = screenshots / f"{page_name.replace('/', '__')}.png"
        page.screenshot(path=str(out), full_page=True)
        page.context.close()


def test_index_redirects_to_the_first_page(browser, site):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{site}/index.html")
        page.wait_for_url(f"**/{PAGES[0]}.html", timeout=10_000)
    finally:
        context.close()
