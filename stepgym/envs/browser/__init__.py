"""Browser core shared by the GUI envs: Chromium via Playwright, an isolated context per episode."""

from stepgym.envs.browser.launch import LAUNCH_FLAGS, BrowserNotFoundError, find_chromium
from stepgym.envs.browser.server import StaticServer
from stepgym.envs.browser.session import BrowserDied, BrowserHost, Session, rss_bytes

__all__ = [
    "LAUNCH_FLAGS", "BrowserNotFoundError", "find_chromium", "StaticServer",
    "BrowserDied", "BrowserHost", "Session", "rss_bytes",
]
