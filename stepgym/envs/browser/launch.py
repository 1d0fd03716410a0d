"""Finding and launching a Chromium for Playwright: Playwright's own build first, else the system one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: flags every launch gets: headless, no sandbox (CI runs as root), and nothing that phones home
LAUNCH_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
)

_SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserNotFoundError(RuntimeError):
    """Neither Playwright's Chromium nor a system Chromium is installed."""


def playwright_chromium(playwright) -> str | None:
    """Path of Playwright's downloaded Chromium when it exists on disk, else None."""
    try:
        path = playwright.chromium.executable_path
    except Exception:  # noqa: BLE001 - older/newer drivers raise when nothing is installed
        return None
    return path if path and Path(path).is_file() else None


def system_chromium() -> str | None:
    """Path of a Chromium on PATH (or $STEPGYM_CHROMIUM / /usr/bin/chromium), else None."""
    env = os.environ.get("STEPGYM_CHROMIUM")
    if env:
        if not Path(env).is_file():
            raise BrowserNotFoundError(f"STEPGYM_CHROMIUM={env!r} is not a file")
        return env
    for name in _SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def find_chromium(playwright) -> str | None:
    """The executable to launch: None means Playwright's own build; a path means the system one.

    Raises BrowserNotFoundError naming both ways to install one when neither exists.
    """
    if playwright_chromium(playwright):
        return None
    path = system_chromium()
    if path:
        return path
    raise BrowserNotFoundError(
        "no Chromium found for the GUI environments. Install one of: "
        "Playwright's build (`python -m playwright install chromium`), or the system package "
        "(`apt-get install -y chromium fonts-dejavu-core`, or set STEPGYM_CHROMIUM=/path/to/chrome)."
    )
