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
