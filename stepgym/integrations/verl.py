"""stepgym envs in verl 0.9.1: an agent loop (one env step per turn) and GiGPO over state keys.

Point a verl config at the loop and the trainer (examples/verl/*.yaml):

    actor_rollout_ref.rollout.agent.agent_loop_config_path=examples/verl/agent_loops.yaml
    trainer.v1.trainer_mode=gigpo_sync            # GiGPO; any other mode keeps verl's estimators

`StepgymAgentLoop.run` plays one episode of the dataset row's env (`extra_info.env_id`, `seed`,
`task_id`): every turn renders stepgym's prompt (system prompt with the action grammar, the last
`history_len` steps, the current observation and, with a processor, its screenshot), generates
through verl's server manager and steps the env with the decoded text. It returns one
`AgentLoopOutput` per env step (verl stores each as its own row), each with the exact generated
tokens as its response and in `extra_fields["stepgym"]` the step's reward, the state key the
action was taken in, the trajectory id and step index. `reward_score` is the episode return.

A registered advantage estimator never sees `extra_fields`, so GiGPO lives in a trainer:
`GiGPOTrainer._compute_advantage` reads them from TransferQueue and computes
`stepgym.trainers.advantages.gigpo_advantages` over the batch's step rows
(`gigpo_batch_advantages`, testable on a plain `DataProto`).
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from verl.experimental.agent_loop.agent_loop import (
    AgentLoopBase,
    AgentLoopMetrics,
    AgentLoopOutput,
    register,
)
from verl.protocol import DataProto

from stepgym.integrations.episode import EnvEpisode
from stepgym.trainers.advantages import gigpo_advantages

AGENT_NAME = "stepgym"
EXTRA_KEY = "stepgym"

# Envs are blocking (Playwright's sync API is bound to the thread that made the browser), so every
# env call of a worker process runs on one thread, off verl's event loop; envs are pooled per id
# because hydra builds a new agent loop for every trajectory.
_ENV_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stepgym-env")
_FREE_ENVS: dict[tuple[str, str], list[EnvEpisode]] = {}


def _acquire(env_id: str, env_kwargs: dict[str, Any], record_dir: str | None) -> EnvEpisode:
    pool = _FREE_ENVS.setdefault((env_id, repr(sorted(env_kwargs.items()))), [])
    return pool.pop() if pool else EnvEpisode(env_id, env_kwargs, record_dir=record_dir,
                                              policy_meta={"trainer": "verl"})


def _release(ep: EnvEpisode, env_kwargs: dict[str, Any]) -> None:
    ep.finish()
    _FREE_ENVS.setdefault((ep.env_id, repr(sorted(env_kwargs.items()))), []).append(ep)


@register(AGENT_NAME)
class StepgymAgentLoop(AgentLoopBase):
    """verl agent loop running one stepgym episode per trajectory, one env step per turn."""

    def __init__(self, *args: Any, env_id: str | None = None, env_kwargs: dict[str, Any] | None = None,
                 max_turns: int | None = None, history_len: int = 2, record_dir: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.max_turns = max_turns
        self.history_len = history_len
        self.record_dir = record_dir
        self.response_length = int(self.rollout_config.response_length)

    async def _env(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(_ENV_THREAD, fn, *args)

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> list[AgentLoopOutput]:
        info = dict(kwargs.get("extra_info") or {})
        env_id = info.get("env_id") or self.env_id
        if not env_id:
            raise ValueError("StepgymAgentLoop needs an env id: set env_id in the agent loop config "
                             "or extra_info.env_id in the dataset row")
        seed = None if info.get("seed") is None else int(info["seed"])
        ep = await self._env(_acquire, env_id, self.env_kwargs, self.record_dir)
        try:
            await self._env(lambda: ep.reset(seed=seed, task_id=info.get("task_id") or None))
            return await self._play(ep, sampling_params)
        finally:
            await self._env(_release, ep, self.env_kwargs)

    async def _play(self, ep: EnvEpisode, sampling_params: dict[str, Any]) -> list[AgentLoopOutput]:
        trajectory = uuid.uuid4().hex
        outputs: list[AgentLoopOutput] = []
        history: list[tuple[str, str]] = []  # (observation text, action text) of earlier steps
        while not ep.done and (self.max_turns is None or len(outputs) < self.max_turns):
            messages, images = self._messages(ep, history)
            prompt_ids = await self.ct_build_initial_tokens(messages, images=images)
            out = await self.server_manager.generate(request_id=uuid.uuid4().hex, prompt_ids=prompt_ids,
                                                     sampling_params=sampling_params, image_data=images)
            response = list(out.token_ids)[: self.response_length]
            text = self.tokenizer.decode(response, skip_special_tokens=True)
            observation = ep.last.text
            key = ep.last.state_key
            turn = await self._env(ep.step, text)
            history.append((observation, text))
            outputs.append(AgentLoopOutput(
                prompt_ids=list(prompt_ids), response_ids=response, response_mask=[1] * len(response),
                response_logprobs=list(out.log_probs)[: len(response)] if out.log_probs else None,
                multi_modal_data={"images": images} if images else {},
                num_turns=2, metrics=AgentLoopMetrics(),
                extra_fields={EXTRA_KEY: {"trajectory": trajectory, "step": len(outputs), "state_key": key,
                                          "reward": turn.reward, "action_valid": turn.action_valid,
                                          "env_id": ep.env_id, "task_id": ep.task_id,
                                          "infra_error": turn.error}},
            ))
        episode_return = None if ep.error else ep.total_reward
        for output in outputs:
            output.reward_score = 0.0 if episode_return is None else episode_return
            output.extra_fields[EXTRA_KEY]["episode_return"] = episode_return
            output.extra_fields[EXTRA_KEY]["success"] = ep.success
            output.extra_fields["reward_extra_info"] = {}  # verl copies it from the last output
        return outputs

    def _messages(self, ep: EnvEpisode, history: list[tuple[str, str]]) -> tuple[list[dict], list | None]:
        """stepgym's window prompt: task, the last `history_len` steps, the current observation."""
        lines = [f"Task: {ep.instruction}"]
        shown = history[-self.history_len:] if self.history_len else []
        first = len(history) - len(shown)
        for i, (obs, action) in enumerate(shown, start=first + 1):
            lines.append(f"Step {i} observation:\n{obs}\nAction: {action}")
        lines.append(f"Current observation (step {len(history) + 1}):\n{ep.last.text}\nYour next action:")
        content: list[dict[str, Any]] = [{"type": "text", "text": "\n".join(lines)}]
        images = None
        if self.processor is not None and ep.last.image is not None:
            from PIL import Image

            images = [Image.fromarray(ep.last.image)]
            content.insert(0, {"type": "image"})
        return [{"role": "system", "content": ep.system_prompt()}, {"role": "user", "content": content}], images


# -- GiGPO over the batch's step rows --------------------------------------------------------------
def gigpo_batch_advantages(data: DataProto, *, gamma: float = 0.95, omega: float = 1.0,
                           normalize: str = "mean", episode_weighting: str = "step",
                           eps: float = 1e-6) -> torch.Tensor:
    """Token-level GiGPO advantages [B, L] for a batch of step rows (one row per env step).

    Reads `non_tensor_batch["uid"]` (the prompt group) and `["extra_fields"]` (each row's
    `stepgym` dict: trajectory, step, state_key, reward) and `batch["response_mask"]`; rows may
    come in any order. Each row's advantage is `gigpo_advantages` of its step, spread over its
    response tokens.
    """
    uid = np.asarray(data.non_tensor_batch["uid"], dtype=object)
    extras = [row[EXTRA_KEY] if isinstance(row, dict) and EXTRA_KEY in row else None
              for row in data.non_tensor_batch["extra_fields"]]
    missing = [i for i, e in enumerate(extras) if e is None]
    if missing:
        raise ValueError(f"rows {missing[:5]} have no extra_fields['{EXTRA_KEY}']: GiGPO needs the rows of "
                         "StepgymAgentLoop (agent_name 'stepgym')")
    order = sorted(range(len(extras)), key=lambda i: (str(uid[i]), extras[i]["trajectory"], extras[i]["step"]))
    rows = [extras[i] for i in order]
    per_step = gigpo_advantages(
        np.array([r["reward"] for r in rows], dtype=np.float64),
        [r["trajectory"] for r in rows], [str(uid[i]) for i in order], [r["state_key"] for r in rows],
        gamma=gamma, omega=omega, normalize=normalize, episode_weighting=episode_weighting, eps=eps)
    adv = np.empty(len(rows))
    adv[np.asarray(order, dtype=np.int64)] = per_step
    mask = data.batch["response_mask"].float()
    return torch.as_tensor(adv, dtype=torch.float32)[:, None] * mask


def _gigpo_settings(algorithm: Any) -> dict[str, Any]:
    """`algorithm.gigpo.*` from the verl config (set with `+algorithm.gigpo.omega=1.0`), with defaults."""
    cfg = algorithm.get("gigpo", None) if hasattr(algorithm, "get") else None
    cfg = dict(cfg or {})
    allowed = {"gamma", "omega", "normalize", "episode_weighting"}
    unknown = sorted(set(cfg) - allowed)
    if unknown:
        raise ValueError(f"unknown algorithm.gigpo settings {unknown}; expected some of {sorted(allowed)}")
    return cfg


def _register_trainer() -> type | None:
    """Define and register `GiGPOTrainer` ("gigpo_sync") where verl's v1 trainer imports
    (it needs TransferQueue and torchdata); returns None elsewhere."""
    try:
        import transfer_queue as tq
        from tensordict import TensorDict
        from verl.trainer.ppo.v1.trainer_base import register_trainer
        from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
        from verl.workers.utils.padding import response_to_nested
    except ImportError:
        return None

    @register_trainer("gigpo_sync")
    class GiGPOTrainer(PPOTrainerSync):
        """verl's synchronous PPO trainer with GiGPO advantages from stepgym's state keys.

        The only change w.r.t. `PPOTrainerSync` is `_compute_advantage`: it also fetches each
        row's `extra_fields` (which verl's estimator dispatch never passes on) and computes
        `gigpo_batch_advantages`; returns equal advantages (no critic).
        """

        def _compute_advantage(self, batch: Any, metrics: dict) -> Any:
            fields = ["uid", "response_mask", "extra_fields"]
            data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=fields)
            response_mask = data["response_mask"]
            extra = data.pop("extra_fields").tolist()
            uid = np.array(data.pop("uid").tolist(), dtype=object)
            proto = DataProto(batch=data.to_padded_tensor(),
                              non_tensor_batch={"uid": uid, "extra_fields": np.array(extra, dtype=object)})
            advantages = gigpo_batch_advantages(proto, **_gigpo_settings(self.config.algorithm))
            metrics["gigpo/advantage_abs_mean"] = float(advantages.abs().sum() / proto.batch["response_mask"].sum())
            out = TensorDict({"advantages": response_to_nested(advantages, response_mask),
                              "returns": response_to_nested(advantages, response_mask)}, batch_size=len(batch))
            return tq.kv_batch_put(keys=batch.keys, partition_id=batch.partition_id, fields=out)

    return GiGPOTrainer


GiGPOTrainer = _register_trainer()


def write_dataset(env_id: str, n: int, path: str | Path, *, seed: int = 0,
                  task_ids: list[str] | None = None) -> Path:
    """A verl RL dataset (parquet) of `n` episodes of `env_id` for `StepgymAgentLoop`.

    Each row: `agent_name` "stepgym", `extra_info` {env_id, seed, task_id}, and a placeholder
    `prompt` (verl's dataset needs one; the loop renders the real prompt from the env).
    """
    import pandas as pd

    rows = [{
        "data_source": env_id, "agent_name": AGENT_NAME,
        "prompt": [{"role": "user", "content": f"{env_id} episode {seed + i}"}],
        "reward_model": {"style": "env", "ground_truth": ""},
        "extra_info": {"env_id": env_id, "seed": seed + i,
                       "task_id": task_ids[i % len(task_ids)] if task_ids else "", "index": i},
    } for i in range(n)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    pd.DataFrame(rows).to_parquet(tmp)
    tmp.replace(path)
    return path
