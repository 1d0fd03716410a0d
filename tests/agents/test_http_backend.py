"""OpenAI-compatible backend against the real `stepgym serve` server on 127.0.0.1, plus retries."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from _agent_inputs import sokoban_inputs

from stepgym.agents.hf import GenerationSettings, HFPolicy
from stepgym.agents.openai_backend import (
    BackendError,
    HTTPSettings,
    OpenAIPolicy,
    normalize_base_url,
    topk_entropy,
)

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_dir):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "stepgym", "serve", str(tiny_dir), "--host", "127.0.0.1",
                             "--port", str(port), "--name", "tiny", "--device", "cpu"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("stepgym serve did not come up:\n" + proc.stdout.read().decode()[-2000:])
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_greedy_http_equals_hf(server, tiny_dir):
    inputs = sokoban_inputs(3)
    settings = GenerationSettings(max_new_tokens=10, temperature=0)
    local = HFPolicy(tiny_dir, config=settings).act(inputs)
    remote_policy = OpenAIPolicy(server, config=settings, http=HTTPSettings(request_token_ids=True))
    assert remote_policy.model == "tiny"  # discovered through /v1/models
    remote = remote_policy.act(inputs)
    for a, b in zip(local, remote, strict=True):
        assert b.text == a.text
        assert b.token_ids == a.token_ids and b.prompt_ids == a.prompt_ids
        assert b.logprobs == pytest.approx(a.logprobs, abs=1e-4)
    plain = OpenAIPolicy(server, "tiny", config=settings)
    assert [a.text for a in plain.act(inputs)] == [a.text for a in local]  # no extensions asked: text only
    remote_policy.close()


def test_entropy_from_top_logprobs(server, tiny_dir):
    """With top_logprobs the HTTP path reports ARPO's top-k entropy: a lower bound of the full
    distribution's (which the HF backend reports), positive, and over log|V| when |V| is given."""
    inputs = sokoban_inputs(2)
    settings = GenerationSettings(max_new_tokens=8, temperature=0)
    local_policy = HFPolicy(tiny_dir, config=settings)
    local = local_policy.act(inputs)
    vocab = local_policy.model.get_output_embeddings().weight.shape[0]
    remote = OpenAIPolicy(server, "tiny", config=settings, http=HTTPSettings(top_logprobs=20, vocab_size=vocab))
    for a, b in zip(local, remote.act(inputs), strict=True):
        assert b.text == a.text
        assert 0 < b.meta["entropy"] <= a.meta["entropy"] + 1e-4
        assert b.meta["entropy_norm"] == pytest.approx(b.meta["entropy"] / math.log(vocab))
    assert "entropy" not in OpenAIPolicy(server, "tiny", config=settings).act(inputs)[0].meta  # not asked for
    remote.close()


def test_topk_entropy_hand_values():
    half = math.log(0.5)
    entries = [{"top_logprobs": [{"logprob": half}, {"logprob": half}]},  # 2 equal options: log 2
               {"top_logprobs": [{"logprob": 0.0}]}]  # certain: 0
    assert topk_entropy(entries) == pytest.approx(math.log(2) / 2)
    assert topk_entropy(entries, tokens=1) == pytest.approx(math.log(2))
    assert topk_entropy([{"logprob": -1.0, "top_logprobs": []}]) is None


def test_openai_reply_format_and_seed(server):
    body = {"model": "tiny", "messages": [{"role": "user", "content": "Push the box."}], "max_tokens": 5,
            "temperature": 1.0, "seed": 11, "logprobs": True, "top_logprobs": 3, "n": 2}
    r1 = httpx.post(server + "/chat/completions", json=body, timeout=60).json()
    r2 = httpx.post(server + "/chat/completions", json=body, timeout=60).json()
    assert r1["object"] == "chat.completion" and len(r1["choices"]) == 2
    assert [c["message"]["content"] for c in r1["choices"]] == [c["message"]["content"] for c in r2["choices"]]
    entry = r1["choices"][0]["logprobs"]["content"][0]
    assert set(entry) == {"token", "logprob", "bytes", "top_logprobs"} and len(entry["top_logprobs"]) == 3
    assert entry["top_logprobs"][0]["logprob"] >= entry["logprob"] - 1e-6
    assert r1["usage"]["completion_tokens"] == sum(len(c["logprobs"]["content"]) for c in r1["choices"])
    bad = httpx.post(server + "/chat/completions", json={**body, "model": "gpt-9"}, timeout=60)
    assert bad.status_code == 400 and "unknown model 'gpt-9'" in bad.text


class _Flaky(BaseHTTPRequestHandler):
    plan: list[int] = []
    seen: list[str] = []

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(self.path)
        code = type(self).plan.pop(0) if type(self).plan else 200
        reply = ({"choices": [{"message": {"content": "<action>up</action>"}, "finish_reason": "stop"}]}
                 if code == 200 else {"error": "busy"})
        data = json.dumps(reply).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def flaky():
    srv = HTTPServer(("127.0.0.1", 0), _Flaky)
    _Flaky.plan, _Flaky.seen = [], []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_retries_with_backoff_then_succeeds(flaky):
    _Flaky.plan = [503, 429]
    policy = OpenAIPolicy(flaky, "m", http=HTTPSettings(max_retries=3, backoff_s=0.05))
    t0 = time.perf_counter()
    (action,) = policy.act(sokoban_inputs(1))
    assert action.text == "<action>up</action>" and action.logprobs is None and action.token_ids is None
    assert len(_Flaky.seen) == 3 and time.perf_counter() - t0 >= 0.05 + 0.1  # waited 0.05 then 0.1


def test_client_errors_are_not_retried_and_are_named(flaky):
    _Flaky.plan = [400]
    policy = OpenAIPolicy(flaky, "m", http=HTTPSettings(max_retries=3, backoff_s=0.01))
    with pytest.raises(BackendError, match="refused with HTTP 400"):
        policy.act(sokoban_inputs(1))
    assert len(_Flaky.seen) == 1


def test_unreachable_server_fails_after_retries():
    port = _free_port()  # nothing listens here
    with pytest.raises(BackendError, match="failed after 3 tries; last error: ConnectError"):
        OpenAIPolicy(f"http://127.0.0.1:{port}", "m", http=HTTPSettings(max_retries=2, backoff_s=0.01,
                                                                         timeout_s=2)).act(sokoban_inputs(1))
    assert normalize_base_url(f"http://127.0.0.1:{port}") == f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ValueError, match="expected an http"):
        normalize_base_url("127.0.0.1:8000")


def test_stepgym_eval_with_openai_policy(server, tmp_path, capsys):
    from stepgym.cli import main
    from stepgym.episodes import read_episodes

    spec = f"openai:{server}#tiny?max_new_tokens=4&temperature=0&request_token_ids=true"
    assert main(["eval", "stepgym/Sokoban-v0", "--policy", spec, "--episodes", "2", "--num-envs", "2",
                 "--env-kwargs", '{"max_steps": 2}', "--record", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["episodes"] == 2
    eps = list(read_episodes(tmp_path))
    assert eps[0].meta["policy"]["base_url"] == server and eps[0].meta["policy"]["model"] == "tiny"
    assert all(len(s.policy["token_ids"]) == len(s.policy["logprobs"]) for e in eps for s in e.steps)


def test_http_client_needs_no_torch(flaky, tmp_path):
    """`stepgym eval --policy openai:...` runs in an interpreter where `import torch` fails."""
    script = (
        "import sys\n"
        "sys.modules['torch'] = None  # every `import torch` now raises ImportError\n"
        "from stepgym.cli import main\n"
        f"code = main(['eval', 'stepgym/Sokoban-v0', '--policy', 'openai:{flaky}#m', '--episodes', '1',\n"
        f"             '--env-kwargs', '{{\"max_steps\": 2}}', '--record', {str(tmp_path)!r}, '--json'])\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1])["episodes"] == 1
    assert _Flaky.seen == ["/v1/chat/completions"] * 2  # both steps asked the server


def test_eval_offline_asks_the_served_model_on_recorded_screens(server, tmp_path, capsys):
    """`stepgym eval-offline --policy openai:URL#MODEL` on a recorded Mobile-v0 step."""
    import numpy as np

    from stepgym.cli import main
    from stepgym.envs.mobile.env import action_doc
    from stepgym.episodes import Episode, EpisodeWriter, Step

    obs = 'Task: open the clock\nUI elements:\n[0] TextView "Clock" bounds=(10,10,110,60) clickable'
    step = Step(index=0, observation=obs, action='{"action_type": "click", "index": 0}',
                parsed_action={"action_type": "click", "index": 0}, terminated=True, reward=1.0)
    with EpisodeWriter(tmp_path / "rec") as w:
        w.write(Episode("stepgym/Mobile-v0", "ClockOpen", 0, "open the clock", steps=[step], success=True,
                        meta={"action_doc": action_doc(360, 640)}),
                images={0: np.full((640, 360, 3), 200, np.uint8)})
    out = tmp_path / "report.json"
    assert main(["eval-offline", "stepgym", str(tmp_path / "rec"), "--policy", f"openai:{server}#tiny?max_new_tokens=6",
                 "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["steps"] == 1 and isinstance(report["per_step"][0]["pred_text"], str)
    assert report["source"]["policy"]["name"] == "openai"
