"""The connect pages in a real browser (Debian's headless Chromium): what the browser builds
from each page shows the customer the heading, what happened and what to do next, hostile text
stays text, and the page is styled under its own Content-Security-Policy (the stylesheet's hash
matches: a blocked stylesheet would leave a plain white page)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from calsync.connections import pages
from tests.browser import Png, chromium, dump_dom, screenshot

BROWSER = chromium()
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium on this machine: apt-get install -y chromium (.ci/run installs it)"
)

CASES = {
    "connected": (200, "Your Calendly organization is connected as 'acme'; webhooks are subscribed."),
    "access_denied": (400, "Calendly did not grant access, so nothing was connected."),
    "invalid_state": (400, "This authorization link is unknown, expired or already used."),
    "calendly_error": (502, "Calendly refused the authorization: Bad Gateway"),
    "hostile": (400, "<img src=x onerror=alert(1)><script>alert(2)</script>"),
}


def write(folder: Path, reason: str) -> Path:
    status, message = CASES[reason]
    path = folder / f"{reason}.html"
    path.write_text(pages.render(status, pages.heading(reason), message, reason), encoding="utf-8")
    return path


def test_each_page_shows_the_customer_what_happened_and_what_to_do(tmp_path: Path) -> None:
    assert BROWSER is not None
    files = {reason: write(tmp_path, reason) for reason in CASES}
    with ThreadPoolExecutor(max_workers=2) as pool:
        doms = dict(zip(files, pool.map(lambda path: dump_dom(BROWSER, path), files.values()), strict=True))
    for reason, dom in doms.items():
        heading, next_step = pages.GUIDES.get(reason, pages.FALLBACK)
        message = CASES[reason][1]
        assert f"<h1>{heading}</h1>" in dom, reason
        assert next_step in dom.replace("&#x27;", "'"), reason
        if reason != "hostile":
            assert message in dom.replace("&#x27;", "'"), reason
    # hostile text is text: the browser built no element from it
    assert "<img" not in doms["hostile"]
    assert doms["hostile"].count("<script") == 0
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in doms["hostile"]


def test_success_and_failure_pages_render_styled_under_their_policy(tmp_path: Path) -> None:
    assert BROWSER is not None
    shots = [(reason, tmp_path / f"{reason}.png") for reason in ("connected", "invalid_state")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        images = list(pool.map(lambda shot: Png(screenshot(BROWSER, write(tmp_path, shot[0]), shot[1])), shots))
    for image in images:
        assert (image.width, image.height) == (1000, 700)
        # not blank: the card, its text and mark
        assert len(image.colours()) > 50
        # the stylesheet applied (the CSP let it): the page's background is the tinted gradient, not white
        assert image.pixel(5, 5) != (255, 255, 255)
    # and each says which it is at a glance: the accent colour, green for success, red for failure
    ok, failed = images
    assert (26, 127, 75) in ok.colours()
    assert (179, 38, 30) not in ok.colours()
    assert (179, 38, 30) in failed.colours()
    assert (26, 127, 75) not in failed.colours()
