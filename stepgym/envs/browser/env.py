"""`BrowserEnv`: what every env on the browser core shares (desktop, mobile).

It serves one inlined page from the env's own 127.0.0.1 server, keeps one `Session` per env,
turns a dead browser into a truncated step (`info["error"]`) that the next reset recovers from,
lets seed s pick task s mod N, turns Playwright errors into `BrowserDied` or `ActionError`
(`_refused_as`), and advances scripted oracles only on their own actions (in any spelling
that parses to the same action: text, a tool call's dict).
Subclasses set `asset_family`, `page`, `inlined_files` and `snapshot_function` and, if they
need them, override `context_options()` and `_crash_info()`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stepgym.envs.browser.server import StaticServer
from stepgym.envs.browser.session import BrowserDied, Session
from stepgym.envs.core import ActionError, StepEnv
from stepgym.envs.tasks import Task
from stepgym.paths import asset_path

# how index.html links each kind of file, and the element its inlined text goes in
_LINKS = {".css": ('<link rel="stylesheet" href="{}">', "style"), ".js": ('<script src="{}"></script>', "script")}


@functools.cache
def inlined_page(family: str, files: tuple[str, ...]) -> str:
    """assets/<family>/index.html with `files` (its stylesheets and scripts) inlined.

    One request per reset instead of one per file. A file index.html no longer links is an
    error, so that a renamed asset cannot silently drop out of the page.
    """
    root = asset_path(family)
    html = (root / "index.html").read_text(encoding="utf-8")
    for name in files:
        link, wrap = _LINKS[Path(name).suffix]
        tag = link.format(name)
        if tag not in html:
            raise ValueError(f"assets/{family}/index.html lost {tag!r}; inlined_page() needs it")
        html = html.replace(tag, f"<{wrap}>\n{(root / name).read_text(encoding='utf-8')}\n</{wrap}>")
    return html


class BrowserEnv(StepEnv):
    """Base of envs whose apps run in a real Chromium page."""

    asset_family: ClassVar[str] = ""  # assets/<family> is served as the env's static root
    page: ClassVar[str] = "/index.html"  # path of the inlined page
    #: stylesheets and scripts of assets/<family>/index.html inlined into the page, in link order
    inlined_files: ClassVar[tuple[str, ...]] = ()
    #: source of a page function (no arguments) that returns what a step observes besides pixels
    #: (app state, element list) as JSON; read once per step, together with the screenshot
    snapshot_function: ClassVar[str] = ""

    # set by subclasses' __init__ before StepEnv.__init__
    viewport: tuple[int, int]

    def _init_browser_state(self) -> None:
        """Attributes every browser env keeps; call from __init__ after StepEnv.__init__."""
        self._server: StaticServer | None = None
        self._session: Session | None = None
        self._snap: dict[str, Any] | None = None
        self._seen: dict[str, Any] | None = None  # the snapshot the last observation showed
        self._image: np.ndarray | None = None
        self._crash: str | None = None
        self._reset_seed: int | None = None
        self._oracle_i = 0
        self._oracle_pending: tuple[int, str] | None = None

    # -- hooks ------------------------------------------------------------------------------
    def _page_html(self) -> str:
        """The page's HTML with its scripts and styles inlined (one request per reset)."""
        return inlined_page(self.asset_family, self.inlined_files)

    def context_options(self) -> dict[str, Any]:
        """Extra browser-context options (mobile emulation, touch)."""
        return {}

    def _crash_info(self) -> dict[str, Any]:
        """Env-specific info keys a crashed step must still carry (keys never change)."""
        return {}

    # -- shared behaviour -----------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """StepEnv.reset; without a task in `options`, seed s picks task s mod N of the split
        (so seeds 0..N-1 play every task once), no seed picks one at random."""
        self._reset_seed = seed
        return super().reset(seed=seed, options=options)

    def _choose_task(self, options: dict[str, Any] | None) -> Task:
        if self._reset_seed is not None and not (options or {}).get("task_id") and not (options or {}).get("task"):
            return self.split_tasks[int(self._reset_seed) % len(self.split_tasks)]
        return super()._choose_task(options)

    def _ensure_session(self) -> Session:
        if self._server is None:
            self._server = StaticServer(asset_path(self.asset_family))
            self._server.add_page(self.page, self._page_html())
        if self._session is None:
            options = self.context_options()
            kwargs = {"context_options": options} if options else {}
            self._session = Session(self._server.origin, viewport=self.viewport, **kwargs)
        return self._session

    def _open_episode(self, setup_function: str, arg: Any) -> None:
        """A fresh page for a new episode, set up by the page function `setup_function(arg)`.

        A browser that died between episodes is relaunched once; the per-episode browser state
        (cached snapshot and screenshot, crash, oracle position) starts empty.
        """
        session = self._ensure_session()
        try:
            session.open(self.page)
        except Exception:  # noqa: BLE001 - a browser that died between episodes: relaunch once
            session.host.relaunch()
            session.open(self.page)
        session.evaluate(setup_function, arg)
        self._snap = self._seen = None
        self._image = None
        self._crash = None
        self._oracle_i = 0
        self._oracle_pending = None

    def step(self, action: str | dict):
        """StepEnv.step, plus crash handling: a dead browser ends the episode (truncated, info["error"])."""
        self._advance_oracle(action)
        # element indices in the action refer to the list the agent saw (as in AndroidWorld);
        # every step then observes afresh (and never hands out the same array twice)
        self._seen = self._snap
        self._snap = None
        self._image = None
        try:
            return super().step(action)
        except BrowserDied as exc:
            return self._crashed(str(exc))

    @contextlib.contextmanager
    def _refused_as(self, what: str) -> Iterator[None]:
        """Inside the block, a Playwright error becomes `BrowserDied` when the browser is gone
        (the step is then truncated, an infrastructure failure) and otherwise the agent's
        `ActionError` "`what`: <the error's first line>" (the page refused the input)."""
        try:
            yield
        except (ActionError, BrowserDied):
            raise
        except Exception as exc:  # noqa: BLE001 - Playwright raises plain errors for both cases
            err = self._session.guard(exc)
            if isinstance(err, BrowserDied):
                raise err from exc
            raise ActionError(f"{what}: {str(exc).splitlines()[0]}") from None

    def _snapshot(self) -> dict[str, Any]:
        """The page's per-step JSON (`snapshot_function`), read once per step and cached.

        When the step's screenshot is due as well, both come back from one round trip
        (`Session.observe`): the page runs the function while the browser waits for the frame.
        """
        if self._snap is None:
            if self.visual and self._image is None:
                self._snap, self._image = self._session.observe(self.snapshot_function)
            else:
                self._snap = self._session.evaluate_json(self.snapshot_function)
        return self._snap

    def _observe_image(self) -> np.ndarray:
        if self._image is None:
            self._image = self._session.screenshot()
        return self._image

    def _crashed(self, message: str):
        self._done = True
        self._crash = message
        info = {
            "task_id": self.task.task_id, "state_key": "crashed", "action_valid": True, "action_error": None,
            "parsed_action": None, "success": False, "error": f"browser crashed: {message}",
            "blocked_requests": [], **self._crash_info(),
        }
        obs: dict[str, Any] = {"text": f"The browser crashed ({message}); the episode ended. Call reset()."}
        if self.visual:
            obs["image"] = np.zeros((self.viewport[1], self.viewport[0], 3), np.uint8)
        return obs, 0.0, False, True, info

    def _replay_extras(self) -> dict[str, Any]:
        # a replay does not ask the oracle, so its position in the plan is carried over
        return {"oracle_i": self._oracle_i, "oracle_pending": self._oracle_pending}

    def _apply_replay_extras(self, extras: dict[str, Any]) -> None:
        self._oracle_i = int(extras.get("oracle_i", 0))
        self._oracle_pending = extras.get("oracle_pending")

    def _advance_oracle(self, action: Any) -> None:
        # the oracle's plan moves on when the agent takes the action it proposed, in any spelling
        # the env parses to the same thing (its text, the dict of a tool call, other whitespace)
        pending, self._oracle_pending = self._oracle_pending, None
        if pending is None or pending[0] != self.steps:
            return
        if action == pending[1] or self._same_action(action, pending[1]):
            self._oracle_i += 1

    def _same_action(self, action: Any, text: str) -> bool:
        try:
            return self.parse_action(action) == self.parse_action(text)
        except ActionError:
            return False

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._server is not None:
            self._server.close()
            self._server = None
        super().close()

    def __del__(self) -> None:  # envs dropped without close(): free the port at least
        try:
            if self._server is not None:
                self._server.close()
        except Exception:  # noqa: BLE001
            pass
