"""A static HTTP server on 127.0.0.1 (a free port) that serves one env's web apps."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHandler(SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        page = self.server.pages.get(self.path.split("?", 1)[0])  # type: ignore[attr-defined]
        if page is None:
            return super().do_GET()
        body, ctype = page
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass

    def end_headers(self) -> None:
        # apps are read once per context; never let Chromium keep a stale copy across runs
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class StaticServer:
    """Serves `root` on http://127.0.0.1:<free port>/ from a daemon thread until `close()`."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"web root {str(root)!r} is not a directory")
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.pages = {}  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="stepgym-static", daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT` (no trailing slash)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add_page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> None:
        """Serve `body` from memory at `path` (e.g. one page with its CSS and JS inlined)."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self._httpd.pages[path] = (data, content_type)  # type: ignore[attr-defined]

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
