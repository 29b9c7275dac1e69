"""Selenium helpers for the dashboard tests: the dashboard redraws a view whenever an event arrives,
so an element found a moment ago may be gone (stale) by the time it is clicked. These find the
element again and retry until a deadline."""
from __future__ import annotations

from typing import Any

from .v1client import until


def press(driver: Any, selector: str, what: str, key: str = "", timeout: float = 15) -> None:
    """Click the element matching ``selector`` (or send ``key`` to it), found again if a redraw
    replaced it meanwhile. A stale element never received the click, so a retry clicks once."""
    from selenium.webdriver.common.by import By

    def once() -> bool:
        element = driver.find_element(By.CSS_SELECTOR, selector)
        element.send_keys(key) if key else element.click()
        return True
    until(once, timeout, what=what)


def dialog_open(driver: Any) -> bool:
    """Whether the confirmation dialog is open, read by selector (the element itself may be redrawn)."""
    return bool(driver.execute_script(
        "const d = document.querySelector('[data-role=confirm-dialog]'); return !!(d && d.open)"))
