"""A real Chromium driven by Selenium, for the console's browser tests.

Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`), headless,
on a fresh profile each time. Without them the tests are skipped, except under `CI=true`, where a
missing browser is a failure (`.ci/run` installs them). Every wait is on a condition of the page,
never a fixed sleep; the browser's console log is kept so a test can require that nothing went
wrong in it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import require_backend

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
WAIT_SECONDS = 60.0
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def require_chromium() -> None:
    """Skip (or, under CI, fail) when Chromium, its driver or Selenium is missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        install = "apt-get install chromium chromium-driver"
        require_backend("chromium", f"missing {', '.join(missing)} ({install})")


@dataclass
class Browser:
    """One Chromium window on the console at `base_url`."""

    driver: Any
    base_url: str
    log: list[dict[str, Any]] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.driver.get(f"{self.base_url}{path}")

    def wait(self, condition: Callable[[Any], Any], timeout: float = WAIT_SECONDS, message: str = "") -> Any:
        """Until `condition` holds; an element it reads that the page redraws meanwhile is read again."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        waiting = WebDriverWait(
            self.driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        )
        return waiting.until(condition, message)

    def find(self, css: str, timeout: float = WAIT_SECONDS) -> Any:
        """The first element matching `css`, once it is displayed."""
        from selenium.webdriver.common.by import By

        def shown(driver: Any) -> Any:
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed():
                    return element
            return False

        return self.wait(shown, timeout, f"no visible element matches {css!r}")

    def present(self, css: str, timeout: float = WAIT_SECONDS) -> Any:
        """The first element matching `css`, shown or not (a visually hidden file input)."""
        return self.wait(lambda driver: self.all(css)[0] if self.all(css) else False, timeout, f"no {css!r}")

    def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def click(self, css: str) -> None:
        from selenium.webdriver.support import expected_conditions as ec

        element = self.find(css)
        self.wait(ec.element_to_be_clickable(element), message=f"{css!r} is not clickable")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def type(self, css: str, text: str, *, clear: bool = True) -> Any:
        element = self.find(css)
        if clear:
            element.clear()
        element.send_keys(text)
        return element

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def script(self, source: str, *args: Any) -> Any:
        return self.driver.execute_script(source, *args)

    def select(self, css: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        # Options may arrive after their select (a page fills them from the API): wait for this one.
        self.find(f"{css} option[value='{value}']")
        Select(self.find(css)).select_by_value(value)

    def sign_in(self, user: str, path: str = "/") -> None:
        """Sign in as a demo user on the sign-in page and land on `path`."""
        self.open(f"/signin?return_to={path}")
        self.click(f"button[data-user='{user}']")
        self.wait(lambda driver: "/signin" not in driver.current_url, message="sign-in did not leave /signin")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.script("document.getElementById('toasts')?.remove()")
        self.driver.save_screenshot(str(path))
        return path

    def console_entries(self) -> list[dict[str, Any]]:
        """Everything the page logged since the last call (kept in `log` too)."""
        entries = list(self.driver.get_log("browser"))
        self.log.extend(entries)
        return entries

    def console_errors(self, *, expected: tuple[str, ...] = ()) -> list[str]:
        """Errors the page logged so far (network failures included), minus `expected` substrings."""
        self.console_entries()
        return [
            entry["message"]
            for entry in self.log
            if entry["level"] == "SEVERE" and not any(known in entry["message"] for known in expected)
        ]


@contextmanager
def chromium(
    base_url: str, *, width: int = 1360, height: int = 960, language: str = "en-US"
) -> Iterator[Browser]:
    """A headless Chromium on a fresh profile, closed (and its profile removed) afterwards."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="agentmesh-chromium-")
    options = Options()
    options.binary_location = str(CHROMIUM)
    window = f"--window-size={width},{height}"
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", window, f"--lang={language}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield Browser(driver=driver, base_url=base_url)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
