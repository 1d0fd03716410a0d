"""TRL 1.16 GRPOTrainer with stepgym envs on CPU: rollout_func on Sokoban, tool envs on Mobile-v0."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("trl", reason="trl is not installed (pip install 'stepgym[trl]')")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from stepgym.episodes import read_episodes  # noqa: E402
from stepgym.integrations.episode import EnvEpisode  # noqa: E402
from stepgym.integrations.trl import (  # noqa: E402
    StepgymRollout,
    env_reward,
    episode_dataset,
    invalid_action_penalty,
    oracle_conversation,
    oracle_tool_call,
    sft_tool_calls,
    tool_environment,
    tool_names,
    tool_penalty,
)

ROOT = Path(__file__).resolve().parents[2]


def _example():
    spec = importlib.util.spec_from_file_location("trl_grpo_sokoban", ROOT / "examples" / "trl_grpo_sokoban.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _config(tmp_path, **kw):
    from trl import GRPOConfig

    base = dict(output_dir=str(tmp_path / "trl"), per_device_train_batch_size=4, num_generations=4,
                max_completion_length=224, max_steps=2, temperature=1.0, learning_rate=1e-3, beta=0.0,
                bf16=False, use_cpu=True, gradient_checkpointing=False, report_to="none", save_strategy="no",
                logging_steps=1, seed=0)
    return GRPOConfig(**{**base, **kw})


def test_rollout_func_one_step_rewards_are_the_envs(tiny_lm, tmp_path):
    """Fast: one GRPO step; the logged reward is the episodes' env return, env tokens are masked."""
    from trl import GRPOTrainer

    model, tok = tiny_lm
    rollout = StepgymRollout(max_turn_tokens=6)
    outputs = []

    def spy(prompts, trainer):
        outputs.append(rollout(prompts, trainer))
        return outputs[-1]

    trainer = GRPOTrainer(model=model, processing_class=tok, args=_config(tmp_path, max_steps=1,
                                                                          max_completion_length=200),
                          train_dataset=episode_dataset("stepgym/Sokoban-v0", 4), reward_funcs=[env_reward],
                          rollout_func=spy)
    trainer.train()
    out = outputs[0]
    log = next(r for r in trainer.state.log_history if "reward" in r)
    assert log["reward"] == pytest.approx(np.mean(out["env_reward"]))
    assert max(out["num_turns"]) > 1 and any(0 in m for m in out["env_mask"])
    for ids, mask, turns in zip(out["completion_ids"], out["env_mask"], out["num_turns"]):
        # model tokens (1) per turn, then the observation's tokens (0): turns-1 env blocks
        blocks = sum(1 for a, b in zip([1] + mask, mask) if a == 1 and b == 0)
        assert blocks == turns - 1 and len(ids) == len(mask) <= 200
    assert all(len(k) == t for k, t in zip(out["state_keys"], out["num_turns"]))


@pytest.mark.slow
def test_rollout_func_trains_on_sokoban(tiny_lm, tmp_path):
    from trl import GRPOTrainer

    model, tok = tiny_lm
    _example().warm_start(model, tok, steps=20)  # valid moves, so groups have different rewards
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rollout = StepgymRollout(max_turn_tokens=10, record_dir=tmp_path / "episodes")
    outputs = []

    def spy(prompts, trainer):
        outputs.append(rollout(prompts, trainer))
        return outputs[-1]

    trainer = GRPOTrainer(model=model, processing_class=tok, args=_config(tmp_path),
                          train_dataset=episode_dataset("stepgym/Sokoban-v0", 8),
                          reward_funcs=[env_reward, invalid_action_penalty], rollout_func=spy)
    trainer.train()

    assert len(outputs) == 2 and trainer.state.global_step == 2
    assert any((before[k] - v).abs().max() > 0 for k, v in model.state_dict().items())  # the loss moved weights
    logs = [r for r in trainer.state.log_history if "reward" in r]
    for out, log in zip(outputs, logs):
        # the rewards TRL logged are the env's: returns and invalid-action penalties of the episodes played
        want = np.mean([r - 0.1 * sum(not v for v in valid)
                        for r, valid in zip(out["env_reward"], out["action_valid"])])
        assert log["reward"] == pytest.approx(want, abs=1e-5)
        for ids, mask in zip(out["completion_ids"], out["env_mask"]):
            assert len(ids) == len(mask) <= 224 and mask[0] == 1
        assert max(out["num_turns"]) > 1  # multi-turn: env tokens (mask 0) between model turns
        assert any(0 in m for m in out["env_mask"])
    # every episode is recorded; replaying its actions in a fresh env gives the same rewards and keys
    episodes = list(read_episodes(tmp_path / "episodes"))
    assert len(episodes) == sum(len(o["completion_ids"]) for o in outputs)
    for ep in episodes[:4]:
        ref = EnvEpisode("stepgym/Sokoban-v0")
        ref.reset(seed=ep.seed, task_id=ep.task_id)
        for step in ep.steps:
            assert step.state_key == ref.last.state_key
            assert ref.step(step.action).reward == step.reward
        ref.close()


def test_rollout_prompts_name_their_episode():
    with pytest.raises(ValueError, match="episode_prompt"):
        StepgymRollout()(["hello"], trainer=type("T", (), {"_generate_single_turn": None,
                                                           "processing_class": None})())


def test_mobile_tools_return_the_env_screenshots():
    Env = tool_environment("stepgym/Mobile-v0", max_image_pixels=None)
    assert {"click", "click_element", "scroll", "input_text", "open_app", "finish"} <= set(tool_names(Env))
    env = Env()
    ref = EnvEpisode("stepgym/Mobile-v0")
    first = env.reset(seed=4, task_id=None, prompt=[])
    want = ref.reset(seed=4)
    assert np.array_equal(np.asarray(first[0]["image"]), want.image)
    got = env.click_element(index=2)
    want = ref.step({"action_type": "click", "index": 2})
    assert np.array_equal(np.asarray(got[0]["image"]), want.image) and got[1]["text"].startswith(want.text)
    bad = env.scroll(direction="sideways")
    assert not env.episode.action_valid[-1] and "direction" in bad[1]["text"]
    assert env.get_reward() == ref.total_reward
    ref.close()
    env.episode.close()


def test_tool_environment_rejects_unknown_tools_and_ids():
    with pytest.raises(ValueError, match="click_element"):
        tool_environment("stepgym/Mobile-v0", tools=["teleport"])
    with pytest.raises(Exception, match="Sokoban"):
        tool_environment("stepgym/Sokoban-v1")


def _tool_vlm(tmp_path):
    """The tiny random Qwen2.5-VL with Qwen3-VL's chat template (same vision tokens; it renders tool calls)."""
    import trl
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from stepgym.agents.tiny import build_tiny_vlm

    d = build_tiny_vlm(tmp_path / "vlm")
    model = AutoModelForImageTextToText.from_pretrained(d)
    proc = AutoProcessor.from_pretrained(d)
    template = (Path(trl.__file__).parent / "chat_templates" / "qwen3_vl.jinja").read_text()
    proc.chat_template = proc.tokenizer.chat_template = template
    return model, proc


def _train_with_tools(tmp_path, env_id, *, env_kwargs, tools, system_prompt, max_image_pixels,
                      max_completion_length, sft_seeds=range(1000, 1008), task_ids=None, sft_epochs=60, generations=4):
    """Warm the tiny VLM on oracle tool calls, then two GRPO steps through TRL's environment_factory
    loop; returns what a user would look at: logs, the env's returns, vision-tower calls, weights."""
    import torch
    from trl import GRPOTrainer

    from stepgym.envs.browser import BrowserNotFoundError

    model, proc = _tool_vlm(tmp_path)
    Env = tool_environment(env_id, env_kwargs=env_kwargs, max_image_pixels=max_image_pixels, tools=tools,
                           record_dir=tmp_path / "episodes")
    try:
        sft = sft_tool_calls(model, proc, Env, sft_seeds, task_ids=task_ids, system_prompt=system_prompt,
                             epochs=sft_epochs, lr=3e-3)
    except BrowserNotFoundError as exc:
        pytest.skip(f"{env_id} needs Chromium: {exc}")
    assert sft[-1] < sft[0] / 4

    returns = []  # the env's return of every rollout, in the order TRL scored them

    class Watched(Env):
        def get_reward(self):
            returns.append(super().get_reward())
            return returns[-1]

    Watched.__name__ = Env.__name__
    vision = []  # (grad enabled: the loss's forward pass, images in the call)
    model.model.visual.register_forward_hook(
        lambda mod, args, kwargs, out: vision.append((torch.is_grad_enabled(), len(kwargs["grid_thw"]))),
        with_kwargs=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = GRPOTrainer(
        model=model, processing_class=proc, environment_factory=Watched, reward_funcs=[tool_penalty],
        args=_config(tmp_path, max_completion_length=max_completion_length, max_tool_calling_iterations=4,
                     learning_rate=1e-2, per_device_train_batch_size=generations, num_generations=generations),
        train_dataset=episode_dataset(env_id, 8, task_ids=task_ids, conversational=True, system_prompt=system_prompt))
    trainer.train()
    logs = [r for r in trainer.state.log_history if "reward" in r]
    changed = any((before[k] - v).abs().max() > 0 for k, v in model.state_dict().items())
    return Env.__name__, logs, returns, vision, changed, list(read_episodes(tmp_path / "episodes")), generations


def _check_trained_with_tools(name, logs, returns, vision, changed, episodes, n):
    assert len(logs) == 2 and len(returns) == 2 * n  # 2 steps x n rollouts (one group), each scored by get_reward
    # tool calls were parsed and executed by the env: the recorded episodes have valid actions
    assert sum(r["tools/call_frequency"] for r in logs) > 0
    assert any(s.action_valid for ep in episodes for s in ep.steps)
    # the rewards TRL logged are the env's: its returns per step, equal to the recorded episodes'
    for step, log in enumerate(logs):
        assert log[f"rewards/{name}/mean"] == pytest.approx(np.mean(returns[n * step:n * step + n]), abs=1e-6)
    recorded = sorted(ep.total_reward for ep in episodes)
    assert sorted(returns) == sorted(recorded + [0.0] * (len(returns) - len(recorded)))  # no-call rollouts: 0
    # tool results carried screenshots into the loss's forward pass: more images than the n prompts' own
    assert any(grad and images > n for grad, images in vision)
    # the loss moved the weights exactly when some group's rewards differed (GRPO: else no advantage)
    spread = any(float(r["reward_std"]) > 0 for r in logs)
    assert changed == spread
    return spread


@pytest.mark.slow
def test_environment_factory_trains_two_steps_on_mobile(tmp_path):
    """Two GRPO steps of a tiny Qwen2.5-VL, warmed on oracle tool calls, through TRL's tool loop on
    Mobile-v0 (SettingsToggle: open Settings, tap the switch, finish): screenshots in tool results."""
    assert _check_trained_with_tools(*_train_with_tools(
        tmp_path, "stepgym/Mobile-v0", env_kwargs={"templates": ["SettingsToggle"]},
        tools=["click_element", "finish", "open_app"], system_prompt="You operate a phone through tools.",
        max_image_pixels=32 * 28 * 28, max_completion_length=1536, sft_epochs=40, generations=8))


@pytest.mark.slow
def test_environment_factory_trains_two_steps_on_sokoban_screens(tmp_path):
    """The same path without a browser: Sokoban's rendered board in every tool result (one `act` tool)."""
    assert _check_trained_with_tools(*_train_with_tools(
        tmp_path, "stepgym/Sokoban-v0", env_kwargs={"procedural": {"min_moves": 1, "max_moves": 1}},
        tools=None, system_prompt="Solve the puzzle with the act tool.", max_image_pixels=16 * 28 * 28,
        max_completion_length=768))


def test_sft_tool_calls_steps_per_conversation_and_rejects_bad_batch_size(tmp_path):
    from torch.optim.optimizer import register_optimizer_step_post_hook

    model, proc = _tool_vlm(tmp_path)
    Env = tool_environment("stepgym/Sokoban-v0", env_kwargs={"procedural": {"min_moves": 1, "max_moves": 1}})
    with pytest.raises(ValueError, match="batch_size must be >= 1.*got 0"):
        sft_tool_calls(model, proc, Env, [0, 1], batch_size=0)
    steps = []
    handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: steps.append(1))
    try:
        losses = sft_tool_calls(model, proc, Env, [0, 1], epochs=3, lr=3e-3)
        per_chat = len(steps)
        sft_tool_calls(model, proc, Env, [0, 1], epochs=3, lr=3e-3, batch_size=None)
    finally:
        handle.remove()
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert per_chat == 3 * 2 and len(steps) - per_chat == 3  # one step per chat by default; None: one per epoch


def test_oracle_conversation_is_what_the_tools_return():
    """The oracle chat replays in a fresh tool env: same tool results, then the episode's success."""
    Env = tool_environment("stepgym/Sokoban-v0", env_kwargs={"procedural": {"min_moves": 1, "max_moves": 3}})
    chat = oracle_conversation(Env, seed=3, system_prompt="s")
    assert [m["role"] for m in chat[:2]] == ["system", "user"] and chat[-1] == {"role": "assistant", "content": ""}
    env = Env()
    first = env.reset(seed=3)
    assert np.array_equal(np.asarray(chat[1]["content"][1]["image"]), np.asarray(first[0]["image"]))
    for call, result in zip(chat[2:-1:2], chat[3:-1:2]):
        fn = call["tool_calls"][0]["function"]
        got = getattr(env, fn["name"])(**fn["arguments"])
        assert result["role"] == "tool" and got[1]["text"] == result["content"][1]["text"]
    assert env.episode.success and env.get_reward() == 1.0
    env.episode.close()


def test_oracle_conversation_on_mobile_solves_the_task():
    """Mobile-v0's oracle chat calls open_app, click_element, finish once each and ends in success
    (its plan advances on the tool calls' dicts, not only on its own action text)."""
    from stepgym.envs.browser import BrowserNotFoundError

    Env = tool_environment("stepgym/Mobile-v0", env_kwargs={"templates": ["SettingsToggle"]},
                           tools=["click_element", "finish", "open_app"])
    try:
        chat = oracle_conversation(Env, seed=0)
    except BrowserNotFoundError as exc:
        pytest.skip(f"Mobile-v0 needs Chromium: {exc}")
    calls = [m["tool_calls"][0]["function"]["name"] for m in chat if m.get("tool_calls")]
    assert calls == ["open_app", "click_element", "finish"]
    assert "success: True" in chat[-2]["content"][-1]["text"] and chat[-1] == {"role": "assistant", "content": ""}


def test_oracle_tool_call_maps_mobile_actions():
    Env = tool_environment("stepgym/Mobile-v0", tools=["click_element", "finish", "input_text", "open_app"])
    assert oracle_tool_call(Env, '{"action_type": "click", "index": 3}') == ("click_element", {"index": 3})
    assert oracle_tool_call(Env, '{"action_type": "status", "goal_status": "complete"}') == (
        "finish", {"goal_status": "complete"})
    assert oracle_tool_call(Env, '{"action_type": "input_text", "text": "hi", "index": 5}') == (
        "input_text", {"text": "hi", "clear_text": False, "index": 5})
    with pytest.raises(ValueError, match="scroll.*click_element"):
        oracle_tool_call(Env, '{"action_type": "scroll", "direction": "down"}')  # no scroll tool chosen


@pytest.mark.slow
def test_example_script_runs_two_steps(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "trl_grpo_sokoban.py"), "--out", str(tmp_path),
                          "--steps", "2", "--episodes", "16"], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["episodes_recorded"] == 16  # 2 steps x batch 8
