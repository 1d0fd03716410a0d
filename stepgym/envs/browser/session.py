"""Browser core: one Chromium per thread shared by envs, one fresh context per episode.

    host = BrowserHost.for_thread()          # Playwright + Chromium, shared by this thread's envs
    session = Session(host, origin="http://127.0.0.1:8123", viewport=(1280, 720))
    session.open("/desktop.html")            # new context: only `origin` is reachable
    image = session.screenshot()             # H×W×3 uint8
    text = session.a11y()["text"]            # numbered visible interactive elements
    session.drain_blocked()                  # URLs aborted since the last call

Playwright's sync API is per thread and refuses to run inside a running asyncio loop, so a
host belongs to the thread that made it. When Chromium dies, calls raise `BrowserDied`; the
next `Session.open` relaunches it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from stepgym.envs.browser.launch import LAUNCH_FLAGS, find_chromium

_A11Y_JS = (Path(__file__).with_name("a11y.js")).read_text(encoding="utf-8")



def process_tree(root: int) -> list[int]:
    """`root` and all its descendant process ids (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out

class BrowserDied(RuntimeError):
    """The browser process or the page's renderer is gone; the episode cannot go on."""


def _no_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "stepgym's browser envs use Playwright's sync API, which cannot run inside a running "
        "asyncio event loop; step them from a plain thread or a worker process "
        "(e.g. EnvPool(..., backend='process'))"
    )


class BrowserHost:
    """One Playwright driver and one Chromium for the calling thread, shared by its sessions."""

    _hosts: dict[int, BrowserHost] = {}
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.thread_id = threading.get_ident()
        self._pw = None
        self._browser = None
        self._marker = f"--stepgym-host={uuid.uuid4().hex}"
        self.launches = 0
        self.sessions = 0
        self.executable: str | None = None  # the Chromium launched last (None: Playwright's own build)

    @classmethod
    def for_thread(cls) -> BrowserHost:
        """This thread's host (created on first use; the browser starts lazily)."""
        tid = threading.get_ident()
        with cls._lock:
            host = cls._hosts.get(tid)
            if host is None:
                host = cls._hosts[tid] = cls()
            return host

    def _check_thread(self) -> None:
        if threading.get_ident() != self.thread_id:
            raise RuntimeError(
                "a BrowserHost belongs to the thread that created it (Playwright's sync API is "
                "per thread); make the env in the thread that steps it"
            )

    @property
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    def browser(self):
        """The running Chromium, launched (or relaunched after a crash) when needed."""
        self._check_thread()
        if self.connected:
            return self._browser
        self._drop_browser()
        if self._pw is None:
            # one Playwright driver per thread, for good: a second one in the same thread would
            # find the first one's event loop running and refuse to start
            _no_running_loop()
            from playwright.sync_api import sync_playwright

            self._pw = sync_playwright().start()
        executable = find_chromium(self._pw)
        args = [*LAUNCH_FLAGS, self._marker]
        try:
            self._browser = self._pw.chromium.launch(executable_path=executable, headless=True, args=args)
        except Exception:  # noqa: BLE001 - the driver died too: restart it once, then let errors out
            self._stop_driver()
            from playwright.sync_api import sync_playwright

            self._pw = sync_playwright().start()
            self._browser = self._pw.chromium.launch(executable_path=executable, headless=True, args=args)
        self.launches += 1
        self.executable = executable
        return self._browser

    def relaunch(self):
        """Close Chromium (if it still runs) and start a new one; sessions must `open()` again."""
        self._check_thread()
        self._drop_browser(force=True)
        return self.browser()

    def _drop_browser(self, force: bool = False) -> None:
        if self._browser is not None and (force or not self._browser.is_connected()):
            try:
                self._browser.close()
            except Exception:  # noqa: BLE001 - already gone
                pass
            self._browser = None

    def _stop_driver(self) -> None:
        try:
            if self._pw is not None:
                self._pw.stop()
        except Exception:  # noqa: BLE001
            pass
        self._pw = None

    @property
    def pid(self) -> int | None:
        """Process id of this host's Chromium browser process (Linux /proc), or None."""
        proc = Path("/proc")
        if not proc.is_dir() or not self.connected:
            return None
        marker = self._marker.encode()
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in args and not any(a.startswith(b"--type=") for a in args):
                return int(entry.name)
        return None

    def pids(self) -> list[int]:
        """The browser process and its children (renderers, GPU, utility), for RSS accounting."""
        return [] if self.pid is None else process_tree(self.pid)

    def release(self) -> None:
        """A session is done with the host; the last one out closes Chromium and the driver."""
        self.sessions = max(0, self.sessions - 1)
        if self.sessions == 0:
            self.shutdown()

    def shutdown(self) -> None:
        """Close Chromium and the Playwright driver (idempotent)."""
        if threading.get_ident() != self.thread_id:
            return  # Playwright objects cannot be touched from another thread; process exit reaps them
        self._drop_browser(force=True)
        self._stop_driver()
        with self._lock:
            if self._hosts.get(self.thread_id) is self:
                del self._hosts[self.thread_id]


class Session:
    """One episode's browser context and page; everything but `origin` is blocked and logged."""

    def __init__(
        self,
        origin: str,
        viewport: tuple[int, int] = (1280, 720),
        host: BrowserHost | None = None,
        context_options: dict[str, Any] | None = None,
    ) -> None:
        """`context_options` go to `browser.new_context` on top of the defaults, e.g. a phone:
        `{"is_mobile": True, "has_touch": True, "device_scale_factor": 2, "user_agent": ...}`
        (`viewport` stays the screenshot and coordinate size in CSS pixels)."""
        if not origin.startswith("http://127.0.0.1:") and not origin.startswith("http://[::1]:"):
            raise ValueError(f"origin must be a loopback http origin like http://127.0.0.1:PORT, got {origin!r}")
        w, h = viewport
        if not (isinstance(w, int) and isinstance(h, int) and 64 <= w <= 4096 and 64 <= h <= 4096):
            raise ValueError(f"viewport must be (width, height) ints in [64, 4096], got {viewport!r}")
        self.origin = origin.rstrip("/")
        self.viewport = (w, h)
        options = dict(context_options or {})
        bad = sorted(set(options) & {"viewport", "screen"})
        if bad:
            raise ValueError(f"context_options may not set {bad}; pass viewport=(width, height) instead")
        self.context_options = options
        self.host = host or BrowserHost.for_thread()
        self.host.sessions += 1
        self._context = None
        self._cdp = None
        self.page = None
        self._crashed: str | None = None
        self.blocked: list[str] = []
        self.closed = False

    # -- lifecycle -----------------------------------------------------------------------
    def open(self, path: str = "/") -> None:
        """A fresh context and page at `origin + path` (relaunching Chromium if it died)."""
        self._close_context()
        self._crashed = None
        self.blocked = []
        browser = self.host.browser()
        w, h = self.viewport
        options = {
            "viewport": {"width": w, "height": h}, "device_scale_factor": 1, "locale": "en-US",
            "timezone_id": "UTC", "reduced_motion": "reduce", "service_workers": "block",
        }
        options.update(self.context_options)
        self._context = browser.new_context(**options)
        self._context.route("**/*", self._route)
        try:
            self._context.route_web_socket("**/*", self._route_ws)
        except AttributeError:  # Playwright < 1.48: no WebSocket routing
            pass
        self._context.add_init_script(_A11Y_JS)
        self.page = self._context.new_page()
        self.page.on("crash", lambda _p: setattr(self, "_crashed", "the page's renderer crashed"))
        self.page.on("dialog", lambda d: d.dismiss())  # alert()/confirm() would block every later call
        self.page.set_default_timeout(5000)
        self.page.goto(self.origin + path, wait_until="domcontentloaded")
        self._cdp = self._context.new_cdp_session(self.page)

    def _route(self, route) -> None:
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _route_ws(self, ws) -> None:
        self.blocked.append(ws.url)
        ws.close()

    def drain_blocked(self) -> list[str]:
        """URLs aborted since the last call (then forgotten)."""
        out, self.blocked = self.blocked, []
        return out

    def _close_context(self) -> None:
        if self._context is not None:
            try:
                self._context.close()
            except Exception:  # noqa: BLE001 - the browser may already be gone
                pass
        self._context = self._cdp = self.page = None

    def close(self) -> None:
        """Close the context and let the host shut Chromium down when no session is left."""
        if self.closed:
            return
        self.closed = True
        self._close_context()
        self.host.release()

    # -- health ----------------------------------------------------------------------------
    def check(self) -> None:
        """Raise BrowserDied when the browser or the page is gone."""
        if self.page is None:
            raise BrowserDied("no page is open; call reset()")
        if self._crashed:
            raise BrowserDied(self._crashed)
        if not self.host.connected:
            raise BrowserDied("the browser process exited")
        if self.page.is_closed():
            raise BrowserDied("the page was closed")

    def guard(self, exc: Exception) -> Exception:
        """Turn a Playwright error into BrowserDied when the browser is gone, else return it."""
        try:
            self.check()
        except BrowserDied as died:
            return died
        text = str(exc)
        if "Target" in text and "closed" in text or "has been closed" in text or "crash" in text.lower():
            return BrowserDied(text.splitlines()[0])
        return exc

    # -- CDP commands ------------------------------------------------------------------------
    def send_all(self, commands: list[tuple[str, dict[str, Any]]], timeout_ms: float = 10_000) -> list[dict[str, Any]]:
        """The results of several CDP commands sent back to back, without waiting for each answer.

        Chromium still runs them in order (input events queue in the browser and reach the page
        one after another), but the trips through the Playwright driver, and the frame that each
        touch event waits for before it is acknowledged, overlap: a four-event swipe costs about
        one frame instead of four. Each command fails after `timeout_ms`.
        """
        self.check()
        try:
            return _send_pipelined(self._cdp, commands, timeout_ms)
        except Exception as exc:  # noqa: BLE001
            raise self.guard(exc) from exc

    # -- touch input (contexts opened with has_touch=True) --------------------------------
    @staticmethod
    def _touch_command(kind: str, points: list[tuple[float, float]] = ()) -> tuple[str, dict[str, Any]]:
        if kind not in ("touchStart", "touchMove", "touchEnd", "touchCancel"):
            raise ValueError(f"touch kind must be touchStart/touchMove/touchEnd/touchCancel, got {kind!r}")
        return "Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": float(x), "y": float(y)} for x, y in points]}

    def touch(self, kind: str, points: list[tuple[float, float]] = ()) -> None:
        """Send one CDP touch event: kind is "touchStart", "touchMove", "touchEnd" or "touchCancel".

        Chromium turns these into TouchEvents on the page (the context needs has_touch=True);
        `points` are CSS-pixel (x, y) of the fingers down, empty for touchEnd.
        """
        command = self._touch_command(kind, points)
        self.check()
        try:
            self._cdp.send(*command)
        except Exception as exc:  # noqa: BLE001
            raise self.guard(exc) from exc

    def probe(self) -> None:
        """Raise BrowserDied when the renderer is gone: one cheap evaluate.

        A CDP input event sent to a crashed renderer waits for an acknowledgement that never
        comes, whereas an evaluate fails at once; gestures call this first.
        """
        self.evaluate("0")

    def tap(self, x: float, y: float) -> None:
        """A finger tap at (x, y) CSS pixels (Playwright's touchscreen: one call, crash-aware)."""
        self.check()
        try:
            self.page.touchscreen.tap(x, y)
        except Exception as exc:  # noqa: BLE001
            raise self.guard(exc) from exc

    def swipe(self, start: tuple[float, float], end: tuple[float, float], steps: int = 2) -> None:
        """A finger drag from `start` to `end` in `steps` moves, then lift.

        The events go out back to back (`send_all`): the page gets touchstart, the moves and
        touchend in order, and the call returns once it has handled them all.
        """
        (x0, y0), (x1, y1) = start, end
        self.probe()
        moves = [self._touch_command("touchMove", [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)])
                 for i in range(1, steps + 1)]
        self.send_all([self._touch_command("touchStart", [(x0, y0)]), *moves, self._touch_command("touchEnd")])

    def long_press(self, x: float, y: float, hold_ms: int = 450) -> None:
        """Finger down at (x, y), held `hold_ms` milliseconds (page timers run meanwhile), then lift."""
        self.probe()
        self.touch("touchStart", [(x, y)])
        try:
            self.page.wait_for_timeout(hold_ms)
        except Exception as exc:  # noqa: BLE001
            raise self.guard(exc) from exc
        self.touch("touchEnd")

    # -- observation ---------------------------------------------------------------------
    _CAPTURE = ("Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True})

    def screenshot(self) -> np.ndarray:
        """The viewport as an H×W×3 uint8 array (CDP capture: no per-call style injection)."""
        self.check()

        def capture():
            try:
                return self._cdp.send(*self._CAPTURE)
            except Exception as exc:  # noqa: BLE001
                raise self.guard(exc) from exc

        return self._decode(self._retry_capture(capture)["data"])

    _CAPTURE_RETRIES = 3

    def _retry_capture(self, fetch):
        """`fetch()`, tried again (after 50, 100 ms) when Chromium answers "Unable to capture
        screenshot": with the CPU saturated its compositor sometimes has no frame ready, a
        transient state of a live browser, not a dead one (which `guard` reports as BrowserDied)."""
        for attempt in range(self._CAPTURE_RETRIES):
            try:
                return fetch()
            except BrowserDied:
                raise
            except Exception as exc:  # noqa: BLE001
                if "Unable to capture screenshot" not in str(exc) or attempt + 1 == self._CAPTURE_RETRIES:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _decode(self, data: str) -> np.ndarray:
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
        w, h = self.viewport
        if arr.shape[:2] != (h, w):  # a resized window would break pixel coordinates
            arr = np.asarray(Image.fromarray(arr).resize((w, h)), dtype=np.uint8)
        return arr

    def observe(self, function: str) -> tuple[Any, np.ndarray]:
        """(the JSON value a page function returns, the screenshot), fetched together.

        `function` is source text of a function without arguments, as for `evaluate_json`.
        Both requests go out at once (`send_all`), so the page runs the function while the
        browser waits for the frame to capture: one step's observation costs about one
        screenshot, not a screenshot plus an evaluate.
        """
        evaluate = ("Runtime.evaluate", {"expression": f"JSON.stringify(({function})())", "returnByValue": True})
        result, shot = self._retry_capture(lambda: self.send_all([evaluate, self._CAPTURE]))
        if result.get("exceptionDetails"):
            details = result["exceptionDetails"]
            message = (details.get("exception") or {}).get("description") or details.get("text", "")
            raise RuntimeError(f"page function failed: {message.splitlines()[0] if message else details}")
        value = result.get("result", {}).get("value")
        return (None if value is None else json.loads(value)), self._decode(shot["data"])

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        """`page.evaluate`, with a dead browser reported as BrowserDied."""
        self.check()
        try:
            return self.page.evaluate(expression, arg)
        except Exception as exc:  # noqa: BLE001
            raise self.guard(exc) from exc

    def evaluate_json(self, function: str) -> Any:
        """The JSON value a page function (source text, no arguments) returns, sent as one string.

        Playwright serialises objects value by value; for a few hundred values (an a11y list)
        one JSON string is several times faster.
        """
        text = self.evaluate(f"() => JSON.stringify(({function})())")
        return None if text is None else json.loads(text)

    def a11y(self) -> dict[str, Any]:
        """`{"text", "items"}`: the visible interactive elements with numbered ids and centres."""
        return self.evaluate_json("() => window.__stepgymA11y()")

    def blank(self) -> np.ndarray:
        """A black frame of the viewport's size (the observation after a crash)."""
        w, h = self.viewport
        return np.zeros((h, w, 3), np.uint8)


def _send_pipelined(cdp, commands: list[tuple[str, dict[str, Any]]], timeout_ms: float) -> list[dict[str, Any]]:
    """Send CDP commands on a sync-API CDPSession without waiting between them; results in order.

    Playwright's sync API waits for each answer before it sends the next command. Its sync
    objects run the async implementation on one event loop (`_sync`, `_impl_obj`): handing that
    loop all the sends at once puts every message on the wire before the first answer is back.
    Where those internals differ (another Playwright version) the commands go one by one.
    """
    impl, run = getattr(cdp, "_impl_obj", None), getattr(cdp, "_sync", None)
    coros: list = []
    try:
        if impl is None or run is None:
            raise TypeError("no Playwright internals")
        for method, params in commands:  # binding the arguments checks the signature right here
            coros.append(impl.send(method, params, timeout_ms))
    except TypeError:
        for coro in coros:
            coro.close()
        return [cdp.send(method, params, timeout=timeout_ms) for method, params in commands]

    async def gather() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*coros))

    return run(gather())


def rss_bytes(pids: list[int]) -> int:
    """Sum of resident memory of these processes (Linux /proc), 0 where unreadable."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total
