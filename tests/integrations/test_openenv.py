"""`stepgym serve-env` driven through OpenEnv's own client (openenv 0.10) over /ws on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

pytest.importorskip("openenv.core", reason="openenv is not installed (pip install 'stepgym[openenv]')")

import stepgym  # noqa: E402
from stepgym.integrations.episode import EnvEpisode, image_from_base64  # noqa: E402
from stepgym.integrations.openenv import StepgymAction, StepgymClient  # noqa: E402

BROWSER_ENVS = {"stepgym/Desktop-v0", "stepgym/Desktop-pyautogui-v0", "stepgym/Mobile-v0"}
FAST_ENVS = ["stepgym/Sokoban-v0", "stepgym/WebShop-v0", "stepgym/ToolUse-v0", "stepgym/Mobile-v0"]
SLOW_ENVS = [e for e in stepgym.list_envs() if e not in FAST_ENVS]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env_id: str, *extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "stepgym", "serve-env", env_id, "--port", str(port), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve-env exited: {proc.stdout.read().decode()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("serve-env did not start within 120 s")


@pytest.fixture(scope="module")
def servers():
    """Servers in this process (uvicorn in a thread: no start-up import cost); the CLI itself is
    started as a subprocess in test_killed_client_frees_its_session."""
    import threading

    import uvicorn

    from stepgym.integrations.openenv import create_app

    started: dict[str, tuple[uvicorn.Server, threading.Thread, str]] = {}

    def get(env_id: str) -> str:
        if env_id not in started:
            port = _free_port()
            server = uvicorn.Server(uvicorn.Config(create_app(env_id), host="127.0.0.1", port=port,
                                                   log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            deadline = time.time() + 60
            while not server.started:
                if time.time() > deadline or not thread.is_alive():
                    raise RuntimeError(f"the {env_id} server did not start")
                time.sleep(0.05)
            started[env_id] = (server, thread, f"http://127.0.0.1:{port}")
        return started[env_id][2]

    yield get
    for server, thread, _ in started.values():
        server.should_exit = True
        thread.join(timeout=20)


def _actions(env_id: str, seed: int) -> list:
    """Oracle moves from an in-process env, mixed with one malformed action."""
    env = stepgym.make(env_id)
    env.reset(seed=seed)
    acts = []
    for i in range(3):
        acts.append("this is not an action" if i == 1 else env.unwrapped.oracle_action())
        *_, term, trunc, _ = env.step(acts[-1])
        if term or trunc:
            break
    env.close()
    return acts


def _round_trip(url: str, env_id: str, seed: int = 3) -> None:
    acts = _actions(env_id, seed)
    ref = EnvEpisode(env_id)
    want = ref.reset(seed=seed)
    with StepgymClient(base_url=url) as client:
        got = client.reset(seed=seed).observation
        assert (got.text, got.state_key, got.task_id) == (want.text, want.state_key, ref.task_id)
        assert got.instruction == ref.instruction and got.action_doc == ref.action_doc
        for action in acts:
            want = ref.step(action if isinstance(action, str) else action)
            payload = action if isinstance(action, str) else __import__("json").dumps(action)
            r = client.step(StepgymAction(action=payload))
            o = r.observation
            assert (o.text, o.state_key, o.action_valid, o.action_error, o.success) == (
                want.text, want.state_key, want.action_valid, want.action_error, want.success)
            assert r.reward == pytest.approx(want.reward) and r.done == want.done
            if want.image is not None:
                assert np.array_equal(image_from_base64(o.image), want.image)
            else:
                assert o.image is None
        assert not all(ref.action_valid)  # the malformed action came back as action_valid=False
        state = client.state()
        assert state.step_count == len(acts) and state.seed == seed
    ref.close()


@pytest.mark.parametrize("env_id", FAST_ENVS)
def test_round_trip_equals_in_process_env(servers, env_id):
    _round_trip(servers(env_id), env_id)


@pytest.mark.slow
@pytest.mark.parametrize("env_id", SLOW_ENVS)
def test_round_trip_every_other_env(servers, env_id):
    _round_trip(servers(env_id), env_id)


def test_task_choice_and_protocol_errors_are_observations(servers):
    url = servers("stepgym/Sokoban-v0")
    with StepgymClient(base_url=url) as client:
        early = client.step(StepgymAction(action="up")).observation
        assert not early.action_valid and "reset" in early.action_error
        task = "sokoban_6x6_1box-test-0003"
        assert client.reset(seed=1, task_id=task).observation.task_id == task
        bad_task = client.reset(task_id="no-such-task").observation
        assert not bad_task.action_valid and "no-such-task" in bad_task.action_error
        client.reset(seed=1, task_id=task)
        wrong_type = client.step(StepgymAction(action=["up"])).observation
        assert not wrong_type.action_valid and "string" in wrong_type.action_error
        still = client.step(StepgymAction(action="up")).observation  # the session survived all that
        assert still.action_valid


def test_two_clients_do_not_share_state(servers):
    url = servers("stepgym/Sokoban-v0")
    with StepgymClient(base_url=url) as a, StepgymClient(base_url=url) as b:
        ka = a.reset(seed=0).observation.state_key
        kb = b.reset(seed=1).observation.state_key
        moved = a.step(StepgymAction(action=_actions("stepgym/Sokoban-v0", 0)[0])).observation
        assert moved.state_key != ka                      # a moved ...
        assert b.state().seed == 1 and b.state().step_count == 0
        assert b.state().task_id != a.state().task_id or kb != moved.state_key  # ... b did not
        assert a.state().seed == 0 and a.state().step_count == 1


def test_killed_client_frees_its_session():
    proc, url = _serve("stepgym/Sokoban-v0", "--max-sessions", "1")  # through the CLI
    try:
        _kill_client_and_reconnect(url)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _kill_client_and_reconnect(url: str) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from stepgym.integrations.openenv import StepgymClient
        c = StepgymClient(base_url="{url}"); c.connect(); c.reset(seed=0)
        print("ready", flush=True); time.sleep(600)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    with StepgymClient(base_url=url) as blocked, pytest.raises(Exception, match="CAPACITY|capacity"):
        blocked.reset(seed=0)
    child.kill()
    child.wait()
    deadline = time.time() + 20
    while True:  # the server notices the dead socket and closes that session's env
        try:
            with StepgymClient(base_url=url) as c:
                assert c.reset(seed=2).observation.state_key
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
