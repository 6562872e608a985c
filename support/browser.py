"""A real browser for the dashboard scenarios: Playwright driving Debian's chromium package
(never `playwright install`, which downloads a browser)."""

from __future__ import annotations

import secrets
import shutil

CHROMIUM = "chromium"
VIEWPORT = {"width": 1400, "height": 1000}


def unavailable() -> str | None:
    """Why the scenarios that need a browser cannot run here, or None."""
    if shutil.which(CHROMIUM) is None:
        return ("chromium not installed (make test and make acceptance install the Debian "
                "package chromium as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed in the virtualenv (make setup installs it)"
    return None


class Browser:
    """One page in a headless chromium. `open` marks the page it loaded, so a step can tell
    that a later view came from live updates and not from a reload."""

    def __init__(self):
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=shutil.which(CHROMIUM), args=["--no-sandbox"])
        except BaseException:
            self._playwright.stop()
            raise
        self.page = self._browser.new_page(viewport=VIEWPORT)
        self.requested: list[str] = []            # every URL the page asked for
        self.page.on("request", lambda request: self.requested.append(request.url))
        self._mark = ""

    def open(self, url: str) -> None:
        self.page.goto(url)
        self._mark = secrets.token_hex(8)
        self.page.evaluate(f"window.moosengVisit = '{self._mark}'")

    def reloaded(self) -> bool:
        """Has the page been loaded again (or left) since `open`?"""
        return self.page.evaluate("window.moosengVisit || ''") != self._mark

    def screenshot(self) -> bytes:
        return self.page.screenshot(full_page=True)

    def close(self) -> None:
        try:
            self._browser.close()
        finally:
            self._playwright.stop()
