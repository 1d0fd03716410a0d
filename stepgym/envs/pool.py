"""EnvPool: N environments stepped as a batch, in this process or in worker processes.

Everything that runs many episodes (play, eval, the trainer) goes through it. There is no
auto-reset: a finished env waits until the pool resets it, so that a group of G envs can be
reset together to one task. A worker process that dies is restarted; its episode ends with
`truncated=True` and the error in `info["error"]`.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium

EnvFn = Callable[[], gymnasium.Env]


@dataclass
class StepResult:
    """One env's answer to one `EnvPool.step`."""

    obs: dict[str, Any]
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


class _MakeEnv:
    """Picklable env factory: builds `env_id` with kwargs after importing `imports`."""

    def __init__(self, env_id: str, kwargs: dict[str, Any], imports: Sequence[str]) -> None:
        self.env_id, self.kwargs, self.imports = env_id, dict(kwargs), tuple(imports)

    def __call__(self) -> gymnasium.Env:
        import importlib

        # importing stepgym.registry runs stepgym/__init__ first, which registers the built-in ids
        # (`import stepgym` itself would close a cycle: the package root imports envs)
        from stepgym.registry import make

        for module in self.imports:
            importlib.import_module(module)
        return make(self.env_id, **self.kwargs)


def _worker(conn, env_fn: EnvFn) -> None:
    env = env_fn()
    try:
        while True:
            cmd, payload = conn.recv()
            try:
                if cmd == "reset":
                    result = env.reset(**payload)
                elif cmd == "step":
                    result = env.step(payload)
                elif cmd == "call":
                    name, args, kwargs = payload
                    attr = getattr(env.unwrapped, name)
                    result = attr(*args, **kwargs) if callable(attr) else attr
                elif cmd == "close":
                    conn.send(("ok", None))
                    break
                else:
                    raise ValueError(f"unknown worker command {cmd!r}")
                conn.send(("ok", result))
            except Exception as exc:  # env bugs go back to the parent with their traceback
                conn.send(("err", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        env.close()


class WorkerDied(RuntimeError):
    """The worker process hosting an env exited."""


class _ProcessSlot:
    def __init__(self, env_fn: EnvFn, ctx) -> None:
        self.env_fn, self.ctx = env_fn, ctx
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.process = self.ctx.Process(target=_worker, args=(child, self.env_fn), daemon=True)
        self.process.start()
        child.close()

    def send(self, cmd: str, payload: Any) -> None:
        try:
            self.conn.send((cmd, payload))
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise WorkerDied(self._death()) from exc

    def recv(self) -> Any:
        try:
            status, result = self.conn.recv()
        except (EOFError, ConnectionResetError, OSError) as exc:
            raise WorkerDied(self._death()) from exc
        if status == "err":
            raise RuntimeError(f"env worker raised:\n{result}")
        return result

    def _death(self) -> str:
        self.process.join(timeout=1.0)
        return f"env worker process {self.process.pid} died (exit code {self.process.exitcode})"

    def restart(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()
        self._start()

    def close(self) -> None:
        try:
            self.conn.send(("close", None))
            self.conn.recv()
        except (BrokenPipeError, EOFError, OSError):
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
        self.conn.close()


class _SyncSlot:
    def __init__(self, env_fn: EnvFn) -> None:
        self.env = env_fn()
        self._pending: Any = None

    def send(self, cmd: str, payload: Any) -> None:
        if cmd == "reset":
            self._pending = self.env.reset(**payload)
        elif cmd == "step":
            self._pending = self.env.step(payload)
        elif cmd == "call":
            name, args, kwargs = payload
            attr = getattr(self.env.unwrapped, name)
            self._pending = attr(*args, **kwargs) if callable(attr) else attr

    def recv(self) -> Any:
        result, self._pending = self._pending, None
        return result

    def close(self) -> None:
        self.env.close()


class EnvPool:
    """A batch of envs with per-env reset options and no auto-reset.

    >>> pool = EnvPool("stepgym/Sokoban-v0", num_envs=4)
    >>> first = pool.reset(seeds=[0, 1, 2, 3], options=[{"task_id": "sokoban_6x6_1box-train-0000"}] * 4)
    >>> results = pool.step({0: "up", 1: "left"})        # only the envs named here step
    """

    def __init__(
        self,
        env_id: str | None = None,
        num_envs: int = 1,
        *,
        env_fn: EnvFn | None = None,
        env_kwargs: dict[str, Any] | None = None,
        backend: str = "sync",
        imports: Sequence[str] = (),
        mp_context: str = "forkserver",
    ) -> None:
        if (env_id is None) == (env_fn is None):
            raise ValueError("give exactly one of env_id or env_fn")
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if backend not in ("sync", "process"):
            raise ValueError(f"backend must be 'sync' or 'process', got {backend!r}")
        if env_fn is None:
            env_fn = _MakeEnv(env_id, env_kwargs or {}, imports)
        self.env_id = env_id
        self.num_envs = num_envs
        self.backend = backend
        if backend == "process":
            ctx = mp.get_context(mp_context)
            self._slots: list = [_ProcessSlot(env_fn, ctx) for _ in range(num_envs)]
        else:
            self._slots = [_SyncSlot(env_fn) for _ in range(num_envs)]
        self.done = [True] * num_envs
        self._last_obs: list[dict[str, Any] | None] = [None] * num_envs
        self._closed = False

    def __len__(self) -> int:
        return self.num_envs

    def _indices(self, indices: Sequence[int] | None) -> list[int]:
        idx = list(range(self.num_envs)) if indices is None else [int(i) for i in indices]
        bad = [i for i in idx if not 0 <= i < self.num_envs]
        if bad:
            raise IndexError(f"env indices {bad} out of range 0..{self.num_envs - 1}")
        return idx

    def reset(
        self,
        indices: Sequence[int] | None = None,
        *,
        seeds: Sequence[int | None] | None = None,
        options: Sequence[dict[str, Any] | None] | None = None,
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Reset the envs at `indices` (all by default); seeds/options are per listed env."""
        idx = self._indices(indices)
        seeds = list(seeds) if seeds is not None else [None] * len(idx)
        options = list(options) if options is not None else [None] * len(idx)
        if len(seeds) != len(idx) or len(options) != len(idx):
            raise ValueError(f"{len(idx)} envs to reset but {len(seeds)} seeds and {len(options)} options")
        payloads = {i: {"seed": s, "options": o} for i, s, o in zip(idx, seeds, options)}
        out = {}
        for i in idx:
            try:
                self._slots[i].send("reset", payloads[i])
            except WorkerDied:
                self._slots[i].restart()
                self._slots[i].send("reset", payloads[i])
        for i in idx:
            try:
                out[i] = self._slots[i].recv()
            except WorkerDied:  # died during reset: a fresh worker gets one more try
                self._slots[i].restart()
                self._slots[i].send("reset", payloads[i])
                out[i] = self._slots[i].recv()
            self.done[i] = False
            self._last_obs[i] = out[i][0]
        return [out[i] for i in idx]

    def step(self, actions: Mapping[int, Any]) -> dict[int, StepResult]:
        """Step the envs named in `actions` ({index: action}); others wait."""
        idx = self._indices(list(actions))
        finished = [i for i in idx if self.done[i]]
        if finished:
            raise RuntimeError(f"envs {finished} finished their episode; reset them before stepping")
        died: dict[int, str] = {}
        for i in idx:
            try:
                self._slots[i].send("step", actions[i])
            except WorkerDied as exc:
                died[i] = str(exc)
        results: dict[int, StepResult] = {}
        for i in idx:
            if i not in died:
                try:
                    obs, reward, term, trunc, info = self._slots[i].recv()
                    results[i] = StepResult(obs, float(reward), bool(term), bool(trunc), info)
                except WorkerDied as exc:
                    died[i] = str(exc)
            if i in died:
                self._slots[i].restart()
                results[i] = StepResult(
                    self._last_obs[i] or {"text": ""}, 0.0, False, True,
                    {"error": died[i], "action_valid": True, "action_error": None, "success": False},
                )
            self.done[i] = results[i].done
            self._last_obs[i] = results[i].obs
        return results

    def call(self, name: str, indices: Sequence[int] | None = None, *args: Any, **kwargs: Any) -> list[Any]:
        """Call a method (or read an attribute) of the unwrapped envs at `indices`."""
        idx = self._indices(indices)
        for i in idx:
            self._slots[i].send("call", (name, args, kwargs))
        return [self._slots[i].recv() for i in idx]

    def worker_pids(self) -> list[int]:
        if self.backend != "process":
            raise RuntimeError("worker_pids() needs backend='process'")
        return [s.process.pid for s in self._slots]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for s in self._slots:
            s.close()

    def __enter__(self) -> EnvPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def fork(self, src: int, dsts: Sequence[int], *, native: bool | None = None) -> list:
        """Put env `src`'s exact episode state into envs `dsts`, checked (`stepgym.envs.fork`);
        one `ForkResult` (index, observation, state key, native or replay) per destination."""
        from stepgym.envs.fork import fork_envs

        return fork_envs(self, src, dsts, native=native)
