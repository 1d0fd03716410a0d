"""Checks every browser-backed env must pass (desktop and mobile share them): isolation from other
loopback servers, and recovery when Chromium or one of its renderers is killed mid-episode."""

from __future__ import annotations

import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802
        type(self).seen.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def check_blocks_other_loopback_servers(env, task_id: str, wait_action: str) -> None:
    """A page's fetch to a second server on 127.0.0.1 is aborted, that server sees no request, and
    the next step reports the block once in `info["blocked_requests"]`."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Recorder.seen = []
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/exfiltrate"
        env.reset(seed=0, options={"task_id": task_id})
        outcome = env._session.evaluate(
            "async (u) => { try { await fetch(u); return 'fetched'; } catch (e) { return 'blocked'; } }", url)
        assert outcome == "blocked"
        *_, info = env.step(wait_action)
        assert url in info["blocked_requests"]
        assert _Recorder.seen == []
        *_, info = env.step(wait_action)
        assert info["blocked_requests"] == []  # reported once
    finally:
        httpd.shutdown()
        httpd.server_close()


def kill_browser(env) -> int:
    """SIGKILL the env's Chromium browser process; returns its pid."""
    pid = env._session.host.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid


def kill_renderers(env) -> None:
    """SIGKILL every renderer process of the env's Chromium (the browser itself lives on)."""
    for p in env._session.host.pids():
        try:
            if b"--type=renderer" in Path(f"/proc/{p}/cmdline").read_bytes():
                os.kill(p, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass  # exited meanwhile


def check_crash_step(step_result, image_shape: tuple[int, int, int], what: str = "crash") -> None:
    """The step after a crash: truncated (not terminated), no reward, the error named in `info`."""
    obs, r, term, trunc, info = step_result
    assert trunc and not term and r == 0.0
    assert what in info["error"] and info["state_key"] == "crashed"
    assert obs["image"].shape == image_shape
