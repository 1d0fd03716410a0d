"""Asking a policy for every recorded step, teacher-forced or free-running, and scoring its answers.

The policy sees each recorded screen (screenshot plus the card's observation text) and answers
in stepgym's Mobile-v0 / Desktop-v0 JSON, which the card maps onto the benchmark's vocabulary.
The history it sees is, with `history="recorded"` (teacher forcing, the default), the recorded
ground-truth actions; with `history="predicted"` (free running), its own earlier answers. The
screens are the recorded ones either way: offline, nothing executes the policy's actions, so
free running measures how a policy copes with its own history, not with the states it would
have reached.

Policies: any `stepgym.agents.make_policy` spec (`hf:DIR`, `openai:URL#MODEL`, `vllm:DIR`),
`random` (uniform over plausible actions of each step), and `oracle`, which replays the ground
truth (a check of the scorer: every metric should be 1 unless the protocol's quirks say otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from stepgym.agents.base import AgentAction, AgentInput, Policy
from stepgym.envs.core import ActionError
from stepgym.episodes.offline.card import ProtocolCard
from stepgym.episodes.offline.dataset import OfflineEpisode
from stepgym.episodes.offline.scoring import Prediction, build_report, score_step
from stepgym.episodes.schema import Step

HISTORIES = ("recorded", "predicted")


class ReplayPolicy(Policy):
    """The ground truth of each step (`--policy oracle` offline): scores every step as recorded."""

    name = "oracle"

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        return [AgentAction(text=inp.info["ground_truth"], meta={"replay": True}) for inp in inputs]


def make_offline_policy(spec: str | Policy, seed: int = 0) -> Policy:
    """The policy for an offline run: `oracle` replays the ground truth, anything else is `make_policy`."""
    if isinstance(spec, Policy):
        return spec
    if spec == "oracle":
        return ReplayPolicy()
    from stepgym.agents import make_policy

    return make_policy(spec, seed=seed)


def _chunks(episodes: Iterable[OfflineEpisode], size: int) -> Iterator[list[OfflineEpisode]]:
    it = iter(episodes)
    while chunk := list(islice(it, size)):
        yield chunk


class _EpisodeState:
    """One episode in flight: decoded screens and the history the policy is shown."""

    def __init__(self, card: ProtocolCard, ep: OfflineEpisode, level: str) -> None:
        self.ep = ep
        self.steps = [s for s in ep.episode.steps if card.adapter.scored(ep, s)]
        self.images = [ep.image(i) for i in range(len(ep.episode.steps))]
        self.index_of = {id(s): i for i, s in enumerate(ep.episode.steps)}
        self.texts: dict[int, str] = {}  # step index -> the policy's answer
        self.rows: list[dict] = []
        self.card, self.level = card, level

    def image(self, step: Step):
        return self.images[self.index_of[id(step)]]

    def input(self, position: int, history: str, env_index: int) -> AgentInput:
        adapter, step = self.card.adapter, self.steps[position]
        obs: dict[str, Any] = {"text": adapter.observation(self.ep, step, self.level)}
        if self.image(step) is not None:
            obs["image"] = self.image(step)
        past = []
        for k, prev in enumerate(self.steps[:position]):
            text = adapter.gt_policy_text(self.ep, prev) if history == "recorded" else self.texts.get(prev.index, "")
            past.append(Step(index=k, observation=adapter.observation(self.ep, prev, self.level), action=text))
        info = {"task_id": self.ep.episode.task_id, "instruction": self.ep.episode.instruction,
                "action_doc": adapter.action_doc(self.ep, step), "state_key": f"{self.ep.episode.episode_id}:{step.index}",
                "available_actions": adapter.available_actions(self.ep, step),
                "ground_truth": adapter.gt_policy_text(self.ep, step)}
        return AgentInput(env_index=env_index, observation=obs, info=info, instruction=self.ep.episode.instruction,
                          action_doc=info["action_doc"], history=past,
                          history_images=[self.image(p) for p in self.steps[:position]])

    def answer(self, position: int, action: AgentAction, params: Any) -> None:
        step = self.steps[position]
        text = action.text if isinstance(action.text, str) else json.dumps(action.text)
        self.texts[step.index] = text
        try:
            if action.meta.get("replay"):  # the oracle states the ground truth natively, past any text mapping
                pred = Prediction(self.card.adapter.gt_as_prediction(self.ep, step), text=text)
            else:
                pred = Prediction(self.card.adapter.from_policy(text, self.ep, step), text=text)
        except ActionError as exc:
            pred = Prediction(None, text=text, note=f"unusable answer: {str(exc).splitlines()[0]}")
        self.rows.append(score_step(self.card, params, self.ep, step, pred))


def run_policy(card: ProtocolCard, params: Any, episodes: Iterable[OfflineEpisode], policy: str | Policy, *,
               history: str = "recorded", level: str = "high", batch_size: int = 8, chunk_episodes: int = 16,
               seed: int = 0, split: str | None = None,
               on_episode: Callable[[OfflineEpisode, list[dict]], None] | None = None,
               on_steps: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Ask `policy` for every recorded step and score the answers; returns the report dict.

    `batch_size` steps go to the policy per `act` call; `chunk_episodes` episodes (and their
    decoded screenshots) are in memory at a time. `on_steps(n)` reports progress.
    """
    if history not in HISTORIES:
        raise ValueError(f"history must be one of {HISTORIES}, got {history!r}")
    if level not in ("high", "low"):
        raise ValueError(f"level must be 'high' or 'low', got {level!r}")
    pol = make_offline_policy(policy, seed=seed)
    rows: list[dict] = []
    for chunk in _chunks(episodes, chunk_episodes):
        states = [_EpisodeState(card, ep, level) for ep in chunk]
        if history == "recorded":  # every step is independent: batch them all
            jobs = [(s, i) for s in states for i in range(len(s.steps))]
            rounds = [jobs[k:k + batch_size] for k in range(0, len(jobs), batch_size)]
        else:  # step t of every episode needs its answers for steps < t
            depth = max((len(s.steps) for s in states), default=0)
            layer = [[(s, t) for s in states if t < len(s.steps)] for t in range(depth)]
            rounds = [job[k:k + batch_size] for job in layer for k in range(0, len(job), batch_size)]
        for batch in rounds:
            inputs = [s.input(i, history, env_index=n) for n, (s, i) in enumerate(batch)]
            actions = pol.act(inputs)
            if len(actions) != len(inputs):
                raise RuntimeError(f"policy {pol.name!r} returned {len(actions)} actions for {len(inputs)} inputs")
            for (s, i), action in zip(batch, actions):
                s.answer(i, action, params)
            if on_steps is not None:
                on_steps(len(batch))
        for s in states:
            s.rows.sort(key=lambda r: r["step"])
            rows += s.rows
            if on_episode is not None:
                on_episode(s.ep, s.rows)
    meta = pol.metadata()
    return build_report(card, params, split, rows, source={"policy": meta, "history": history, "level": level})
