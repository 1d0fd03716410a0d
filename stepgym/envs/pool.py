"""EnvPool: N environments stepped as a batch, in this process, in worker processes or in Ray actors.

Everything that runs many episodes (play, eval, the trainer) goes through it. There is no
auto-reset: a finished env waits until the pool resets it, so that a group of G envs can be
reset together to one task.

Backends (one interface, one set of semantics):

- `"sync"`: every env in this process, stepped one after another.
- `"process"`: local worker processes, `envs_per_worker` envs each.
- `"ray"`: Ray actors with a fractional CPU each (0.25 by default), `envs_per_worker` envs each,
  on whatever nodes the Ray cluster has (`ray_address`), or on a local Ray started for the pool.

Env i lives in worker `i // envs_per_worker`. A worker's envs are built and stepped in one thread
of one process, so browser envs in one worker share one Chromium (`BrowserHost.for_thread`). A
pool step sends one message per worker, holding the actions of all its envs that step.

A worker that dies (killed, out of memory, a crashed node) is restarted. Every episode it held
ends with `truncated=True` and `info["error"]` naming the failure: the stepped ones in the step
that found the death, the others at their next step. Such an episode is the infrastructure's
failure, never the agent's (the trainer retries or drops its group).
"""

from __future__ import annotations

import functools
import math
import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium

EnvFn = Callable[[], gymnasium.Env]

BACKENDS = ("sync", "process", "ray")
#: what a Ray env actor asks the scheduler for unless `ray_actor_options` says otherwise: a
#: fraction of a CPU, so that many env actors fit on a small machine (whole-CPU actors on a
#: 2-core box wait for each other forever)
RAY_ACTOR_DEFAULTS: dict[str, Any] = {"num_cpus": 0.25, "max_restarts": 0}
#: seconds a new Ray actor may take to be scheduled and build its envs before the pool gives up
RAY_START_TIMEOUT_S = 300.0


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


class WorkerDied(RuntimeError):
    """The worker (process or Ray actor) hosting an env is gone."""


@dataclass(frozen=True)
class WorkerRestart:
    """One dead worker the pool replaced (`EnvPool.restarts`): which, why, and how long it took."""

    worker: int
    reason: str
    seconds: float  # from finding it dead to a fresh worker with its envs built


def _traceback(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}\n{''.join(traceback.format_exception(exc))}"


class EnvHost:
    """The envs of one worker, built by `env_fn` in the worker's process: the body of every backend.

    `run(cmd, {local index: payload})` answers `{local index: ("ok", result) | ("err", traceback)}`,
    so one env's bug does not hide its neighbours' results. Commands: "reset" (payload: reset
    kwargs), "step" (the action), "call" ((name, args, kwargs) on the unwrapped env).
    """

    def __init__(self, env_fn: EnvFn, num_envs: int) -> None:
        self.envs: list[gymnasium.Env] = []
        try:
            for _ in range(num_envs):
                self.envs.append(env_fn())
        except BaseException:
            self.close()
            raise

    def run(self, cmd: str, payloads: Mapping[int, Any], as_text: bool = True) -> dict[int, tuple[str, Any]]:
        """Each env's answer; an env's exception as its traceback text (or, `as_text=False`, as it is)."""
        if cmd not in ("reset", "step", "call"):
            raise ValueError(f"unknown env worker command {cmd!r}; expected 'reset', 'step' or 'call'")
        out: dict[int, tuple[str, Any]] = {}
        for j, payload in payloads.items():
            try:
                out[j] = ("ok", self._one(self.envs[j], cmd, payload))
            except Exception as exc:  # env bugs go back to the pool, which raises the first one
                out[j] = ("err", _traceback(exc) if as_text else exc)
        return out

    @staticmethod
    def _one(env: gymnasium.Env, cmd: str, payload: Any) -> Any:
        if cmd == "reset":
            return env.reset(**payload)
        if cmd == "step":
            return env.step(payload)
        name, args, kwargs = payload
        attr = getattr(env.unwrapped, name)
        return attr(*args, **kwargs) if callable(attr) else attr

    def pid(self) -> int:
        return os.getpid()

    def close(self) -> None:
        for env in self.envs:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - closing the others matters more
                pass
        self.envs = []


# -- workers: where a chunk of envs runs; each answers `submit` then `result` ---------------------
class _InProcessWorker:
    """The sync backend: the envs live in this process; the pool raises env exceptions as they are."""

    pid = None

    def __init__(self, env_fn: EnvFn, num_envs: int) -> None:
        self.host = EnvHost(env_fn, num_envs)
        self._pending: dict[int, tuple[str, Any]] = {}

    def submit(self, cmd: str, payloads: Mapping[int, Any]) -> None:
        self._pending = self.host.run(cmd, payloads, as_text=False)

    def result(self) -> dict[int, tuple[str, Any]]:
        out, self._pending = self._pending, {}
        return out

    def restart(self) -> None:  # nothing can die here
        pass

    def close(self) -> None:
        self.host.close()


def _process_main(conn, env_fn: EnvFn, num_envs: int) -> None:
    try:
        host = EnvHost(env_fn, num_envs)
    except Exception as exc:  # noqa: BLE001 - the parent raises it, with this traceback
        conn.send(("err", _traceback(exc)))
        return
    conn.send(("ok", os.getpid()))
    try:
        while True:
            cmd, payload = conn.recv()
            if cmd == "close":
                conn.send(("ok", None))
                break
            try:
                conn.send(("ok", host.run(cmd, payload)))
            except Exception as exc:  # noqa: BLE001 - a bad command: the parent raises it
                conn.send(("err", _traceback(exc)))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        host.close()


class _ProcessWorker:
    """A local worker process (multiprocessing) hosting `num_envs` envs."""

    def __init__(self, env_fn: EnvFn, num_envs: int, ctx) -> None:
        self.env_fn, self.num_envs, self.ctx = env_fn, num_envs, ctx
        self.launch()

    def launch(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.process = self.ctx.Process(target=_process_main, args=(child, self.env_fn, self.num_envs), daemon=True)
        self.process.start()
        child.close()

    def await_ready(self) -> None:
        """Wait until the worker has built its envs; raises RuntimeError with their traceback if it could not."""
        try:
            status, result = self.conn.recv()
        except (EOFError, ConnectionResetError, OSError) as exc:
            raise WorkerDied(self._death()) from exc
        if status == "err":
            raise RuntimeError(f"env worker failed to build its envs:\n{result}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def submit(self, cmd: str, payloads: Mapping[int, Any]) -> None:
        try:
            self.conn.send((cmd, dict(payloads)))
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise WorkerDied(self._death()) from exc

    def result(self) -> dict[int, tuple[str, Any]]:
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
        self.launch()
        self.await_ready()

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


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError("EnvPool(backend='ray') needs Ray: pip install 'stepgym[ray]'") from exc
    return ray


@functools.cache
def _ray_env_host():
    """`EnvHost` as a Ray actor class (made once: Ray ships a class definition per `ray.remote`)."""
    return _import_ray().remote(EnvHost)


def _ensure_ray(address: str | None, cpus_needed: float) -> None:
    """Connect to the cluster at `address`, or start a local Ray, unless Ray already runs here."""
    ray = _import_ray()
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, logging_level="WARNING")
        return
    # logical CPUs only gate scheduling (they reserve nothing), so the local cluster gets room for
    # the envs of several pools (a trainer's rollout and eval pools) at fractional CPUs each
    cores = os.cpu_count() or 1
    for attempt in range(3):
        try:
            ray.init(address="local", num_cpus=max(4 * cores, math.ceil(cpus_needed)),
                     include_dashboard=False, logging_level="WARNING")
            return
        except Exception:  # noqa: BLE001 - Ray gives its raylet 30 s to come up, which a loaded
            ray.shutdown()  # machine can miss; a later start, its files now cached, usually makes it
            if attempt == 2:
                raise


class _RayWorker:
    """A Ray actor hosting `num_envs` envs (an `EnvHost`), with `options` for the scheduler."""

    def __init__(self, env_fn: EnvFn, num_envs: int, options: Mapping[str, Any]) -> None:
        self.env_fn, self.num_envs, self.options = env_fn, num_envs, dict(options)
        self._ref = None
        self.pid: int | None = None
        self.launch()

    def launch(self) -> None:
        self.actor = _ray_env_host().options(**self.options).remote(self.env_fn, self.num_envs)
        self._pid_ref = self.actor.pid.remote()

    def await_ready(self) -> None:
        ray = _import_ray()
        try:
            self.pid = ray.get(self._pid_ref, timeout=RAY_START_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError as exc:
            raise RuntimeError(
                f"a Ray env actor with options {self.options} was not running after {RAY_START_TIMEOUT_S:.0f} s; "
                f"the cluster has {ray.available_resources()} free. Lower ray_actor_options['num_cpus'], "
                "raise envs_per_worker, or add nodes") from exc
        except ray.exceptions.RayActorError as exc:
            raise RuntimeError(f"env worker (Ray actor) failed to build its envs:\n{exc}") from exc

    def _name(self) -> str:
        return f"Ray env actor {self.actor._actor_id.hex()[:12]} (pid {self.pid})"

    def submit(self, cmd: str, payloads: Mapping[int, Any]) -> None:
        self._ref = self.actor.run.remote(cmd, dict(payloads))

    def result(self) -> dict[int, tuple[str, Any]]:
        ray = _import_ray()
        ref, self._ref = self._ref, None
        try:
            return ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WorkerDied(f"{self._name()} died ({type(exc).__name__}: {cause})") from exc
        except ray.exceptions.RayTaskError as exc:  # a bad command: EnvHost.run raised
            raise RuntimeError(f"env worker raised:\n{exc}") from exc

    def restart(self) -> None:
        self._kill()
        self.launch()
        self.await_ready()

    def _kill(self) -> None:
        ray = _import_ray()
        try:
            ray.kill(self.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def close(self) -> None:
        ray = _import_ray()
        if not ray.is_initialized():
            return
        try:  # let the envs close (a browser env shuts its Chromium down) before the actor goes
            ray.get(self.actor.close.remote(), timeout=30)
        except Exception:  # noqa: BLE001 - a dead actor has nothing left to close
            pass
        self._kill()


class EnvPool:
    """A batch of envs with per-env reset options and no auto-reset.

    >>> pool = EnvPool("stepgym/Sokoban-v0", num_envs=4)
    >>> first = pool.reset(seeds=[0, 1, 2, 3], options=[{"task_id": "sokoban_6x6_1box-train-0000"}] * 4)
    >>> results = pool.step({0: "up", 1: "left"})        # only the envs named here step

    `backend="ray"` runs the envs in Ray actors: on the cluster at `ray_address` (e.g. "auto" or
    "ray://head:10001"; stepgym must be installed on its nodes), else in the Ray this process
    already started, else in a local Ray started here without the dashboard. `ray_actor_options`
    go to `ActorClass.options()` over `RAY_ACTOR_DEFAULTS` (e.g. {"num_cpus": 0.5, "resources":
    {...}, "runtime_env": {...}}). The local Ray stays up until the interpreter exits (another
    pool may share it); `ray.shutdown()` ends it sooner.
    """

    def __init__(
        self,
        env_id: str | None = None,
        num_envs: int = 1,
        *,
        env_fn: EnvFn | None = None,
        env_kwargs: dict[str, Any] | None = None,
        backend: str = "sync",
        envs_per_worker: int = 1,
        imports: Sequence[str] = (),
        mp_context: str = "forkserver",
        ray_address: str | None = None,
        ray_actor_options: Mapping[str, Any] | None = None,
    ) -> None:
        if (env_id is None) == (env_fn is None):
            raise ValueError("give exactly one of env_id or env_fn")
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
        if not isinstance(envs_per_worker, int) or envs_per_worker < 1:
            raise ValueError(f"envs_per_worker must be an int >= 1, got {envs_per_worker!r}")
        if backend != "ray" and (ray_address is not None or ray_actor_options is not None):
            raise ValueError(f"ray_address and ray_actor_options need backend='ray', got backend={backend!r}")
        if env_fn is None:
            env_fn = _MakeEnv(env_id, env_kwargs or {}, imports)
        self.env_id = env_id
        self.num_envs = num_envs
        self.backend = backend
        self.envs_per_worker = envs_per_worker
        sizes = [min(envs_per_worker, num_envs - lo) for lo in range(0, num_envs, envs_per_worker)]
        self._workers: list = []
        try:
            self._workers = self._start_workers(env_fn, sizes, mp_context, ray_address, ray_actor_options)
        except BaseException:
            self._close_workers()
            raise
        self.done = [True] * num_envs
        self._last_obs: list[dict[str, Any] | None] = [None] * num_envs
        #: env index -> why its episode ended while it was not being stepped (its worker died)
        self._lost: dict[int, str] = {}
        #: every dead worker replaced so far, oldest first (for logs: how often the infrastructure fails)
        self.restarts: list[WorkerRestart] = []
        self._closed = False

    def _start_workers(self, env_fn: EnvFn, sizes: list[int], mp_context: str, ray_address: str | None,
                       ray_actor_options: Mapping[str, Any] | None) -> list:
        if self.backend == "sync":
            return [_InProcessWorker(env_fn, n) for n in sizes]
        if self.backend == "process":
            ctx = mp.get_context(mp_context)
            workers = []
            for n in sizes:  # all start at once; then each is waited for
                workers.append(_ProcessWorker(env_fn, n, ctx))
        else:
            options = {**RAY_ACTOR_DEFAULTS, **(ray_actor_options or {})}
            _ensure_ray(ray_address, len(sizes) * float(options.get("num_cpus") or 0))
            workers = []
            for n in sizes:
                workers.append(_RayWorker(env_fn, n, options))
        self._workers = workers  # so that a failure below closes them all
        for w in workers:
            w.await_ready()
        return workers

    def __len__(self) -> int:
        return self.num_envs

    @property
    def num_workers(self) -> int:
        return len(self._workers)

    def worker_index(self, env_index: int) -> int:
        """Which worker hosts env `env_index` (the position of its pid in `worker_pids()`)."""
        return self._indices([env_index])[0] // self.envs_per_worker

    def _indices(self, indices: Sequence[int] | None) -> list[int]:
        idx = list(range(self.num_envs)) if indices is None else [int(i) for i in indices]
        bad = [i for i in idx if not 0 <= i < self.num_envs]
        if bad:
            raise IndexError(f"env indices {bad} out of range 0..{self.num_envs - 1}")
        return idx

    # -- one round trip to the workers ----------------------------------------------------------
    def _exchange(self, cmd: str, payloads: Mapping[int, Any]) -> tuple[dict[int, tuple[str, Any]], dict[int, str]]:
        """Send each worker its envs' payloads, then collect: ({env: (status, result)}, {worker: death})."""
        k = self.envs_per_worker
        by_worker: dict[int, dict[int, Any]] = {}
        for i, payload in payloads.items():
            by_worker.setdefault(i // k, {})[i % k] = payload
        died: dict[int, str] = {}
        for w, chunk in by_worker.items():
            try:
                self._workers[w].submit(cmd, chunk)
            except WorkerDied as exc:
                died[w] = str(exc)
        out: dict[int, tuple[str, Any]] = {}
        errors: list[BaseException] = []
        for w in by_worker:
            if w in died:
                continue
            try:
                answers = self._workers[w].result()
            except WorkerDied as exc:
                died[w] = str(exc)
                continue
            except RuntimeError as exc:  # collect the others first: no reply is left unread
                errors.append(exc)
                continue
            out.update({w * k + j: answer for j, answer in answers.items()})
        if errors:
            raise errors[0]
        return out, died

    def _restart(self, worker: int, reason: str) -> None:
        """Restart a dead worker; each episode it held is lost, with `reason` as its error."""
        k = self.envs_per_worker
        for i in range(worker * k, min((worker + 1) * k, self.num_envs)):
            if not self.done[i]:
                self._lost[i] = reason
        t0 = time.perf_counter()
        self._workers[worker].restart()
        self.restarts.append(WorkerRestart(worker, reason, time.perf_counter() - t0))

    def _truncated(self, i: int, error: str) -> StepResult:
        return StepResult(self._last_obs[i] or {"text": ""}, 0.0, False, True,
                          {"error": error, "action_valid": True, "action_error": None, "success": False})

    @staticmethod
    def _raise_env_errors(errors: list[tuple[int, Any]]) -> None:
        """Raise the first env's exception (after the pool took in every other env's answer)."""
        if not errors:
            return
        i, error = errors[0]
        if isinstance(error, BaseException):  # the sync backend: the env's own exception
            raise error
        more = f" (and envs {[j for j, _ in errors[1:]]})" if len(errors) > 1 else ""
        raise RuntimeError(f"env worker raised in env {i}{more}:\n{error}")

    # -- the interface ---------------------------------------------------------------------------
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
        out, died = self._exchange("reset", payloads)
        for w, reason in died.items():
            self._restart(w, reason)
        if died:  # a fresh worker gets one more try
            again = {i: p for i, p in payloads.items() if i // self.envs_per_worker in died}
            more, died_again = self._exchange("reset", again)
            for w, reason in died_again.items():
                self._restart(w, reason)
            if died_again:
                raise WorkerDied(f"env workers died twice while resetting: {'; '.join(died_again.values())}")
            out.update(more)
        errors = []
        for i in idx:
            status, result = out[i]
            if status == "err":
                errors.append((i, result))
                continue
            self.done[i] = False
            self._lost.pop(i, None)
            self._last_obs[i] = result[0]
        self._raise_env_errors(errors)
        return [out[i][1] for i in idx]

    def step(self, actions: Mapping[int, Any]) -> dict[int, StepResult]:
        """Step the envs named in `actions` ({index: action}); others wait."""
        idx = self._indices(list(actions))
        finished = [i for i in idx if self.done[i]]
        if finished:
            raise RuntimeError(f"envs {finished} finished their episode; reset them before stepping")
        results: dict[int, StepResult] = {}
        live = {}
        for i in idx:
            if i in self._lost:  # its worker died while it waited
                results[i] = self._truncated(i, self._lost.pop(i))
            else:
                live[i] = actions[i]
        out, died = self._exchange("step", live)
        for w, reason in died.items():
            self._restart(w, reason)
        errors = []
        for i in live:
            if i // self.envs_per_worker in died:
                results[i] = self._truncated(i, self._lost.pop(i))
                continue
            status, result = out[i]
            if status == "err":
                errors.append((i, result))
                continue
            obs, reward, term, trunc, info = result
            results[i] = StepResult(obs, float(reward), bool(term), bool(trunc), info)
        for i, res in results.items():
            self.done[i] = res.done
            self._last_obs[i] = res.obs
        self._raise_env_errors(errors)
        return {i: results[i] for i in idx}

    def call(self, name: str, indices: Sequence[int] | None = None, *args: Any, **kwargs: Any) -> list[Any]:
        """Call a method (or read an attribute) of the unwrapped envs at `indices`.

        When a worker turns out dead, it is restarted and `WorkerDied` is raised; its envs'
        episodes end (truncated, with the error) at their next step.
        """
        idx = self._indices(indices)
        out, died = self._exchange("call", {i: (name, args, kwargs) for i in idx})
        for w, reason in died.items():
            self._restart(w, reason)
        if died:
            raise WorkerDied(f"call({name!r}): {'; '.join(died.values())}; the worker was restarted")
        self._raise_env_errors([(i, out[i][1]) for i in idx if out[i][0] == "err"])
        return [out[i][1] for i in idx]

    def worker_pids(self) -> list[int]:
        """Process id of each worker (worker w hosts envs w*envs_per_worker ...); not for 'sync'."""
        if self.backend == "sync":
            raise RuntimeError("worker_pids() needs backend='process' or 'ray'; 'sync' runs envs in this process")
        return [w.pid for w in self._workers]

    def ray_actors(self) -> list:
        """The Ray actor handle of each worker (backend 'ray'), e.g. to `ray.kill` one in a chaos test."""
        if self.backend != "ray":
            raise RuntimeError(f"ray_actors() needs backend='ray', got {self.backend!r}")
        return [w.actor for w in self._workers]

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._close_workers()

    def _close_workers(self) -> None:
        for w in self._workers:
            try:
                w.close()
            except Exception:  # noqa: BLE001 - close the others
                pass

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
