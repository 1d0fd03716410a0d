"""Finding and launching a Chromium for Playwright: Playwright's own build first, else the system one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: Playwright's own --disable-features/--enable-features lists (1.65). Chromium keeps only the
#: last of several such switches and ours come after Playwright's, so ours repeat them
#: (tests/envs/test_browser_core.py checks the launched command line still holds every name).
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin",
    "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch",
    "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion",
)
PLAYWRIGHT_ENABLED_FEATURES = ("CDPScreenshotNewSurface", "SkipListAccountsWithoutGaiaCookies")

#: what we switch off to save memory (see the per-process table of benchmarks/gui.py)
MEMORY_DISABLED_FEATURES = (
    # full Chromium's headless mode gives every window, i.e. every browser context, a
    # preloaded omnibox-popup WebUI in a renderer of its own: a second renderer per env
    "WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup", "PreloadTopChromeWebUI",
    # a spare renderer kept warm for the context used last; a new context never reuses it
    "SpareRendererForSitePerProcess",
)
#: the network service as a thread of the browser process instead of a process of its own
MEMORY_ENABLED_FEATURES = ("NetworkServiceInProcess2",)

#: flags every launch gets: headless, no sandbox (CI runs as root), nothing that phones home,
#: and the memory savings above
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
    "--disable-features=" + ",".join((*PLAYWRIGHT_DISABLED_FEATURES, *MEMORY_DISABLED_FEATURES)),
    "--enable-features=" + ",".join((*PLAYWRIGHT_ENABLED_FEATURES, *MEMORY_ENABLED_FEATURES)),
)

#: Chromium's headless shell (the browser without its desktop UI) comes first: per env it needs
#: one renderer and about half the browser-process memory of full Chromium. Debian's package
#: puts the binary in /usr/lib/chromium (its /usr/bin script runs it as a child, not via exec,
#: which would hide the browser's process id), so that path is tried before PATH.
_HEADLESS_SHELL_PATHS = ("/usr/lib/chromium/chromium-headless-shell",)
_HEADLESS_SHELL_NAMES = ("chrome-headless-shell",)
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
    """Path of a system Chromium, else None: $STEPGYM_CHROMIUM when set, else a headless shell
    (Debian's chromium-headless-shell, or chrome-headless-shell on PATH), else a full Chromium
    on PATH (or /usr/bin/chromium)."""
    env = os.environ.get("STEPGYM_CHROMIUM")
    if env:
        if not Path(env).is_file():
            raise BrowserNotFoundError(f"STEPGYM_CHROMIUM={env!r} is not a file")
        return env
    for path in _HEADLESS_SHELL_PATHS:
        if Path(path).is_file():
            return path
    for name in (*_HEADLESS_SHELL_NAMES, *_SYSTEM_NAMES):
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
        "(`apt-get install -y chromium-headless-shell fonts-dejavu-core`, or `chromium`; or set "
        "STEPGYM_CHROMIUM=/path/to/chrome)."
    )
