"""The WebShop web site: the env's page model served as HTML over HTTP on 127.0.0.1 (stdlib server).

Every address names a shop state (`/<task_id>/results?q=...&page=2`,
`/<task_id>/item/<ASIN>?q=...&options={...}`), so the site keeps no per-visitor state and a
browser's back button works; `Buy Now` posts to `/<task_id>/item/<ASIN>/buy`, which scores the
purchase with the same reward function as the text env. `/` redirects to a task's search page.

    with WebShopSite() as site:            # random free port
        print(site.url_for("webshop-00000"))
"""

from __future__ import annotations

import json
import threading
import webbrowser
from dataclasses import replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from stepgym.envs.webshop.engine import SUB_PAGES, ShopState, WebShopEngine
from stepgym.envs.webshop.env import Shop, load_shop
from stepgym.envs.webshop.render import placeholder_svg, render_html


class _BadRequest(Exception):
    """A request naming something the shop does not have (answered with 404)."""


class WebShopSite:
    """A threaded HTTP server for one shop; `start()`/`stop()` or use it as a context manager."""

    def __init__(self, data: str | Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 shop: Shop | None = None, default_task: str | None = None) -> None:
        self.shop = shop or load_shop(data)
        tasks = self.shop.tasks
        if default_task is None:
            default_task = tasks.split("test").ids[0] if "test" in tasks.splits() else tasks.ids[0]
        self.default_task = tasks.get(default_task).task_id  # a KeyError naming close ids if unknown
        self.purchases: list[dict] = []   # (task_id, asin, options, reward) of each Buy Now, newest last
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                site._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                site._handle(self, "POST")

            def log_message(self, format: str, *args) -> None:  # quiet: tests and CLI print their own
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}"

    def url_for(self, task_id: str) -> str:
        """The search page of one task (goal)."""
        return f"{self.base_url}/{task_id}/"

    def start(self) -> WebShopSite:
        self._thread = threading.Thread(target=self._server.serve_forever, name="webshop-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebShopSite:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- routing -------------------------------------------------------------------------------
    @property
    def engine(self) -> WebShopEngine:
        return self.shop.engine

    def _goal(self, task_id: str) -> dict:
        if task_id not in self.shop.tasks:
            raise _BadRequest(f"unknown task {task_id!r}; try /{self.default_task}/")
        task = self.shop.tasks.get(task_id)
        return self.shop.catalog.goals[int(task.data["goal_index"])]

    def _state(self, parts: list[str], query: dict[str, list[str]]) -> ShopState:
        """The shop state an address names (everything after the task id)."""
        q = query.get("q", [""])[0]
        try:
            page_no = max(1, int(query.get("page", ["1"])[0]))
        except ValueError as exc:
            raise _BadRequest(f"page must be a positive integer, got {query.get('page')}") from exc
        if not parts:
            return ShopState()
        if parts[0] == "search":
            return self.engine.search_state(query.get("keywords", [""])[0])
        if parts[0] == "results":
            return ShopState("results", q, page_no)
        if parts[0] == "item" and len(parts) >= 2:
            asin = parts[1]
            if asin not in self.shop.catalog.by_asin:
                raise _BadRequest(f"no product {asin!r}")
            try:
                options = json.loads(query.get("options", ["{}"])[0])
            except json.JSONDecodeError as exc:
                raise _BadRequest(f"options must be a JSON object, got {query.get('options')}") from exc
            state = ShopState("item", q, page_no, asin, tuple(sorted((str(k), str(v)) for k, v in options.items())))
            if len(parts) == 2:
                return state
            if parts[2] in SUB_PAGES:
                return replace(state, page="sub", sub=parts[2])
            if parts[2] == "buy":
                return replace(state, page="done")
        raise _BadRequest(f"no page at /{'/'.join(parts)}")

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(req.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = parse_qs(url.query)
        try:
            if not parts:
                return self._redirect(req, f"/{self.default_task}/")
            if parts[0] == "static" and len(parts) == 3 and parts[1] == "img":
                return self._send(req, placeholder_svg(parts[2].rsplit(".", 1)[0]), "image/svg+xml")
            task_id = parts[0]
            goal = self._goal(task_id)
            state = self._state(parts[1:], query)
            if parts[1:2] == ["search"]:  # the search form: go to the results page's own address
                return self._redirect(req, self.engine.url(task_id, state))
            reward = None
            if state.page == "done":
                if method != "POST":
                    raise _BadRequest("Buy Now is a POST (the form on the item page)")
                reward = self.engine.buy(state, goal).reward
                self.purchases.append({"task_id": task_id, "asin": state.asin,
                                       "options": dict(state.options), "reward": reward})
            page = self.engine.page(state, goal["instruction_text"], reward=reward)
            self._send(req, render_html(page, task_id, self.engine))
        except _BadRequest as exc:
            self._send(req, f"<h1>Not found</h1><p>{exc}</p>", status=HTTPStatus.NOT_FOUND)

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, body: str, ctype: str = "text/html; charset=utf-8",
              status: HTTPStatus = HTTPStatus.OK) -> None:
        data = body.encode("utf-8")
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    @staticmethod
    def _redirect(req: BaseHTTPRequestHandler, location: str) -> None:
        req.send_response(HTTPStatus.SEE_OTHER)
        req.send_header("Location", location)
        req.send_header("Content-Length", "0")
        req.end_headers()


def serve_site(port: int = 0, data: str | None = None, task: str | None = None, open_browser: bool = True) -> int:
    """Run the site until Ctrl-C (the `stepgym webshop-site` command); prints and opens its address."""
    site = WebShopSite(data=data, port=port, default_task=task)
    url = site.url_for(site.default_task)
    print(f"WebShop site at {url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        webbrowser.open(url)
    try:
        site._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        site._server.server_close()
    return 0
