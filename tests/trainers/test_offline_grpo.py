"""mobile-offline-grpo-tiny: GRPO on recorded Mobile-v0 steps (OfflineSteps-v0), scored live on Mobile-v0."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
import torch

import stepgym
from stepgym.agents.base import AgentInput
from stepgym.agents.prompting import PromptConfig, build_messages
from stepgym.envs.mobile.env import MobileEnv, param_split_of
from stepgym.envs.offline_steps import score_completion
from stepgym.records import Step
from stepgym.trainers.config import _MOBILE_TEMPLATES, preset
from stepgym.trainers.trainer import Trainer

PRESET = "mobile-offline-grpo-tiny"


class _ParamsOnly(MobileEnv):
    """Mobile-v0's task and parameter draw of a reset, without opening the page (no Chromium here)."""

    def _open_episode(self, *args, **kwargs) -> None:
        pass

    def _observe_text(self) -> str:
        return ""

    def _step_info(self) -> dict:
        return {}

    def state_key(self) -> str:
        return ""


def _offline_env(**kwargs):
    return stepgym.make("stepgym/OfflineSteps-v0", **kwargs).unwrapped


def _episodes(env) -> dict[str, list]:
    out = defaultdict(list)
    for t in env.tasks:
        out[t.data["episode_id"]].append(t)
    return {k: sorted(v, key=lambda t: t.data["step"]) for k, v in out.items()}


def test_preset_trains_offline_and_holds_out_exactly_the_live_test_instances():
    cfg = preset(PRESET)
    assert (cfg.env_id, cfg.eval_env_id) == ("stepgym/OfflineSteps-v0", "stepgym/Mobile-v0")
    assert cfg.eval_env_kwargs["param_split"] == "test" and cfg.group_size > 1 and cfg.sft_episodes > 0
    kept = _episodes(_offline_env(**cfg.env_kwargs))
    everything = _episodes(_offline_env(image=False))
    # the shipped oracle episodes were played by seed (Mobile-v0 drew template and parameters);
    # redraw them to find which recorded instances fall in the held-out half of the eval templates
    probe = _ParamsOnly(image=False)
    held_out = set()
    for key, steps in everything.items():
        template, seed = key.rsplit("-s", 1)
        probe.reset(seed=int(seed))
        assert probe.task.task_id == template and probe.task.instruction == steps[0].instruction
        if template in _MOBILE_TEMPLATES and param_split_of(template, probe._params) == "test":
            held_out.add(key)
    assert held_out and set(everything) - set(kept) == held_out
    assert {k.rsplit("-s", 1)[0] for k in kept} >= set(_MOBILE_TEMPLATES) - {"ClockDeleteAlarm", "ClockLabelLookup"}


def test_bad_exclusion_names_the_episode():
    with pytest.raises(ValueError, match="NoSuchTemplate-s0"):
        _offline_env(exclude_episodes=["NoSuchTemplate-s0"])


def _prompt_text(messages) -> str:
    return json.dumps(messages, sort_keys=True)


def test_offline_step_prompt_is_the_live_prompt_of_that_step():
    """A recorded step asked alone gives the prompt the live env gave at that step (text, grammar,
    instruction), so what GRPO learns offline is what the live evaluation asks."""
    cfg = preset(PRESET)
    env = _offline_env(**cfg.env_kwargs)
    live_doc = MobileEnv(image=False).action_doc
    plain = PromptConfig(history_len=cfg.history_len, include_image=False, max_history_images=0)
    unnumbered = PromptConfig(history_len=cfg.history_len, include_image=False, max_history_images=0, number_steps=False)
    later_steps = differing = 0
    for steps in _episodes(env).values():
        for t, task in enumerate(steps):
            obs, info = env.reset(seed=0, options={"task_id": task.task_id})
            offline = AgentInput(0, obs, info, instruction=info["instruction"], action_doc=info["action_doc"])
            # live: the runner's input at step t, the recorded text being what Mobile-v0 showed
            history = [Step(index=i, observation=s.data["observation"], action=s.data["gt_text"]) for i, s in enumerate(steps[:t])]
            live = AgentInput(0, {"text": task.data["observation"]}, {}, instruction=task.instruction,
                              action_doc=live_doc, history=history)
            assert info["action_doc"] == live_doc and obs.keys() == {"text"}
            assert build_messages(offline, unnumbered) == build_messages(live, unnumbered)
            later_steps += t > 0
            differing += _prompt_text(build_messages(offline, plain)) != _prompt_text(build_messages(live, plain))
    # with step numbers on, every later step's prompt differs offline ("step 1") from live ("step t+1")
    assert later_steps > 100 and differing == later_steps


def _shrunk(tmp_path, **overrides):
    return preset(PRESET, run_dir=str(tmp_path / "run"), iterations=2, tasks_per_iteration=4, group_size=4,
                  num_envs=8, minibatch_size=16, eval_every=2, eval_tasks=4,
                  # no Chromium in the tests: evaluation on the recorded steps instead of live
                  eval_env_id="stepgym/OfflineSteps-v0", eval_env_kwargs={"image": False}, **overrides)


def _assert_rewards_are_the_cards_rule(trainer, batch, group_size):
    records = {t.task_id: dict(t.data, task_id=t.task_id) for t in trainer.train_tasks}
    for group in batch.groups:
        assert len(group.episodes) == group_size and len({e.episode.task_id for e in group.episodes}) == 1
        for ep in (e.episode for e in group.episodes):
            assert len(ep.steps) == 1
            assert ep.total_reward == pytest.approx(score_completion(ep.steps[0].action, records[ep.task_id]))


def test_shrunk_run_plays_recorded_steps_with_the_cards_reward_and_logs_the_paired_gain(tmp_path):
    cfg = _shrunk(tmp_path, sft_episodes=8, sft_epochs=1, sft_batch_size=8)
    trainer = Trainer(cfg, progress=False)
    try:
        trainer.run(stop_after=0)  # SFT on the recorded actions, then the after-SFT evaluation
        batch, _ = trainer.collect(0)
        trainer.run()
    finally:
        trainer.close()
    _assert_rewards_are_the_cards_rule(trainer, batch, cfg.group_size)
    assert [m["iteration"] for m in trainer.metrics() if m.get("phase") == "rl"] == [0, 1]
    evals = [m for m in trainer.metrics() if m.get("phase") == "eval"]
    assert [e["name"] for e in evals] == ["after_sft", "iteration_1"] and "gain_vs_sft" in evals[-1]


@pytest.mark.slow
def test_grpo_on_recorded_steps_changes_the_sft_weights(tmp_path):
    # GRPO needs groups whose rewards differ, i.e. some sampled answers that parse: a longer SFT.
    # (12 epochs of 4 steps at 3e-3 left SFT loss 0.83 and every answer unparseable.)
    cfg = _shrunk(tmp_path, sft_episodes=32, sft_epochs=40, sft_batch_size=8, sft_lr=3e-3)
    trainer = Trainer(cfg, progress=False)
    try:
        trainer.run(stop_after=0)
        after_sft = {k: v.detach().clone() for k, v in trainer.policy.model.state_dict().items()}
        batch, _ = trainer.collect(0)
        trainer.run()
    finally:
        trainer.close()
    _assert_rewards_are_the_cards_rule(trainer, batch, cfg.group_size)
    rl = [m for m in trainer.metrics() if m.get("phase") == "rl"]
    assert sum(m["rows_trained"] for m in rl) > 0, "no group had rewards that differ"
    changed = [k for k, v in trainer.policy.model.state_dict().items() if not torch.equal(v, after_sft[k])]
    assert changed, "GRPO left every weight as SFT had it"
