"""The browser core against real Chromium: isolation, screenshots, a11y text, finding Chromium."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from stepgym.envs.browser import BrowserNotFoundError, Session, StaticServer, find_chromium
from stepgym.envs.browser import launch as launch_mod


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802 - stdlib name
        type(self).seen.append(self.path)
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(b"secret")

    def log_message(self, *args):
        pass


@pytest.fixture()
def other_server():
    """A second loopback server that the page must never reach."""
    _Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd, _Recorder.seen
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def page_session(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text(
        "<html><body style='margin:0;background:rgb(10,200,30)'><button>Save</button>"
        "<input placeholder='Name' value='Ann'><a href='#x'>Help</a><button style='display:none'>Hidden</button>"
        "</body></html>")
    server = StaticServer(root)
    session = Session(server.origin, viewport=(320, 200))
    session.open("/index.html")
    yield session
    session.close()
    server.close()


def test_screenshot_is_uint8_hxwx3_of_the_viewport(page_session):
    img = page_session.screenshot()
    assert img.shape == (200, 320, 3) and img.dtype == np.uint8
    assert tuple(img[-1, -1]) == (10, 200, 30)  # the page's own background, bottom-right pixel


def test_a11y_lists_visible_interactive_elements_with_ids(page_session):
    text = page_session.a11y()["text"].splitlines()
    assert text[0].startswith('[1] button "Save" at (')
    assert text[1].startswith('[2] textbox "Name" value="Ann"')
    assert text[2].startswith('[3] link "Help"')
    assert len(text) == 3  # the hidden button is not listed


def test_requests_to_other_servers_are_aborted_and_logged(page_session, other_server):
    httpd, seen = other_server
    other = f"http://127.0.0.1:{httpd.server_address[1]}/steal?x=1"
    page_session.drain_blocked()
    outcome = page_session.evaluate(
        "async (u) => { try { await fetch(u); return 'fetched'; } catch (e) { return 'blocked'; } }", other)
    img = page_session.evaluate(
        "(u) => new Promise((done) => { const i = new Image(); i.onload = () => done('loaded');"
        " i.onerror = () => done('blocked'); i.src = u + '&img'; })", other)
    assert outcome == "blocked" and img == "blocked"
    assert seen == []  # the second server never saw a request
    blocked = page_session.drain_blocked()
    assert other in blocked and any(u.endswith("&img") for u in blocked)
    own = page_session.evaluate("async () => (await fetch('/index.html')).status")
    assert own == 200  # the env's own server still answers


def test_session_refuses_non_loopback_origins():
    with pytest.raises(ValueError, match="loopback"):
        Session("http://example.com:80")


def test_missing_chromium_error_names_both_installs(monkeypatch):
    class NoBrowserPlaywright:
        class chromium:  # noqa: N801 - mimics playwright.chromium
            executable_path = "/nonexistent/chrome"

    monkeypatch.delenv("STEPGYM_CHROMIUM", raising=False)
    monkeypatch.setattr(launch_mod.shutil, "which", lambda name: None)
    monkeypatch.setattr(launch_mod, "Path", lambda p: type("P", (), {"is_file": lambda self: False})())
    with pytest.raises(BrowserNotFoundError, match=r"playwright install chromium.*apt-get install -y chromium"):
        find_chromium(NoBrowserPlaywright())


def test_inside_an_asyncio_loop_the_error_says_what_to_do(tmp_path):
    import asyncio
    import threading

    (tmp_path / "index.html").write_text("<p>hi</p>")
    server = StaticServer(tmp_path)
    errors = []

    async def use_browser():
        Session(server.origin).open("/index.html")

    def run():  # a fresh thread: no Playwright driver of its own yet
        try:
            asyncio.run(use_browser())
        except RuntimeError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    server.close()
    assert errors and "asyncio event loop" in errors[0] and "backend='process'" in errors[0]


def test_dialogs_do_not_block_the_page(page_session):
    assert page_session.evaluate("() => { alert('hi'); return confirm('sure?'); }") is False


def test_observe_returns_the_page_value_and_the_screenshot_together(page_session):
    value, img = page_session.observe("() => ({n: document.querySelectorAll('button').length, t: document.title})")
    assert value == page_session.evaluate_json("() => ({n: document.querySelectorAll('button').length, t: document.title})")
    assert value["n"] == 2
    assert np.array_equal(img, page_session.screenshot())
    with pytest.raises(RuntimeError, match="page function failed: ReferenceError: nope"):
        page_session.observe("() => nope")


def _record_keys(session) -> None:
    """From now on the page appends every key it gets to window.keys (one listener per page)."""
    session.evaluate("() => { window.keys = ''; if (!window.listening) { window.listening = true;"
                     " document.addEventListener('keydown', (e) => { window.keys += e.key; }); } }")


def test_send_all_keeps_the_order_of_input_events(page_session):
    _record_keys(page_session)
    keys = [("Input.dispatchKeyEvent", {"type": "keyDown", "key": k, "text": k}) for k in "stepgym"]
    results = page_session.send_all(keys)
    assert len(results) == 7
    assert page_session.evaluate("() => window.keys") == "stepgym"


class _PublicOnly:
    """A CDP session as another Playwright version might expose it: the public send() only."""

    def __init__(self, cdp):
        self.send = cdp.send


class _OtherSignature(_PublicOnly):
    """Internals present, but the async send takes other arguments than Playwright 1.65's."""

    def __init__(self, cdp):
        super().__init__(cdp)
        self._sync = cdp._sync

        class Impl:
            async def send(self, method):
                raise AssertionError("must not be awaited")

        self._impl_obj = Impl()


@pytest.mark.parametrize("wrapper", [_PublicOnly, _OtherSignature])
def test_send_all_without_usable_playwright_internals_sends_one_by_one(page_session, wrapper, recwarn):
    from stepgym.envs.browser.session import _send_pipelined

    _record_keys(page_session)
    keys = [("Input.dispatchKeyEvent", {"type": "keyDown", "key": k, "text": k}) for k in "abc"]
    assert len(_send_pipelined(wrapper(page_session._cdp), keys, 5000)) == 3
    assert page_session.evaluate("() => window.keys") == "abc"
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


def _chromium_processes(session) -> tuple[list[list[str]], int]:
    """(the browser's command line split into arguments, how many renderer processes it has)."""
    from pathlib import Path

    args = Path(f"/proc/{session.host.pid}/cmdline").read_bytes().decode().split("\0")
    renderers = 0
    for pid in session.host.pids():
        try:
            renderers += b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            pass  # exited meanwhile
    return args, renderers


def test_our_feature_switches_keep_every_feature_playwright_sets(page_session):
    # Chromium obeys only the last --disable-features (and --enable-features): ours must repeat
    # whatever Playwright passed before it, or a Playwright upgrade silently loses its settings
    args, _ = _chromium_processes(page_session)
    for switch in ("--disable-features=", "--enable-features="):
        values = [a[len(switch):].split(",") for a in args if a.startswith(switch)]
        assert values, f"no {switch} on the command line"
        missing = set().union(*values) - set(values[-1])
        assert not missing, f"the last {switch} drops {sorted(missing)}: add them to launch.py"


def test_each_open_session_costs_one_renderer(page_session, tmp_path):
    # memory per env is mostly renderers: one per browser context, no second one for browser
    # UI (full Chromium's omnibox popup) and no idle spare
    import time

    server = StaticServer(tmp_path)
    server.add_page("/p.html", "<p>hi</p>")
    extra = [Session(server.origin, viewport=(320, 200), host=page_session.host) for _ in range(3)]
    try:
        for s in extra:
            s.open("/p.html")
        for _ in range(50):  # renderers of contexts that other tests closed may take a moment to exit
            _, renderers = _chromium_processes(page_session)
            if renderers <= 4:
                break
            time.sleep(0.1)
        assert renderers == 4, f"{renderers} renderer processes for 4 open sessions"
    finally:
        for s in extra:
            s.close()
        server.close()


def test_a_transient_screenshot_failure_is_retried_and_a_dead_browser_is_not():
    from types import SimpleNamespace

    from stepgym.envs.browser.session import BrowserDied, Session

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("Protocol error (Page.captureScreenshot): Unable to capture screenshot")
        return {"data": "ok"}

    host = SimpleNamespace(_CAPTURE_RETRIES=3)
    assert Session._retry_capture(host, flaky) == {"data": "ok"} and len(calls) == 3
    calls.clear()

    def always():
        calls.append(1)
        raise RuntimeError("Protocol error (Page.captureScreenshot): Unable to capture screenshot")

    with pytest.raises(RuntimeError, match="Unable to capture"):
        Session._retry_capture(host, always)
    assert len(calls) == 3  # gives up after its retries, with Chromium's own message

    def died():
        calls.append(1)
        raise BrowserDied("browser closed")

    calls.clear()
    with pytest.raises(BrowserDied):
        Session._retry_capture(host, died)
    assert len(calls) == 1  # a dead browser is reported at once, for the pool to restart
