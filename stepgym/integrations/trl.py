"""stepgym envs inside TRL's `GRPOTrainer` (trl>=1.16), on both of its multi-turn paths.

Text envs (Sokoban, WebShop, ToolUse, any env read as text) go through `rollout_func`:

    rollout = StepgymRollout()                       # any registered env id, named per dataset row
    trainer = GRPOTrainer(model, reward_funcs=[env_reward], train_dataset=episode_dataset(
        "stepgym/Sokoban-v0", 64), rollout_func=rollout, args=GRPOConfig(...))

Each completion is a whole episode: the model's turns (exactly the tokens it generated, loss on
them) interleaved with the env's observations rendered by the model's own chat template
(`env_mask` = 0, no loss). The env's reward, the state key of every step and action validity come
back as extra fields, so reward functions read them (`env_reward`, `invalid_action_penalty`).

Visual envs (Desktop, Mobile) go through `environment_factory`, where TRL runs the tool-calling
loop itself and can feed images to a VLM: `tool_environment("stepgym/Mobile-v0")` is a class whose
public methods are the env's actions as typed tools; each returns the new screenshot (a PIL image)
and the observation text.

Both paths keep stepgym's episode records when given `record_dir` (`stepgym view DIR`).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from stepgym.integrations.episode import EnvEpisode, EnvTurn

#: GiGPO's invalid-action penalty (Feng et al., 2025)
INVALID_ACTION_PENALTY = 0.1


# -- data --------------------------------------------------------------------------------------
def episode_prompt(env_id: str, seed: int, task_id: str | None = None) -> str:
    """The dataset prompt naming one episode (what `StepgymRollout` reads): a JSON object."""
    spec: dict[str, Any] = {"env_id": env_id, "seed": int(seed)}
    if task_id:
        spec["task_id"] = task_id
    return json.dumps(spec, sort_keys=True)


def episode_dataset(env_id: str, n: int, *, seed: int = 0, task_ids: Sequence[str] | None = None,
                    conversational: bool = False, system_prompt: str | None = None):
    """A `datasets.Dataset` of `n` episodes of `env_id` (seeds seed..seed+n-1; task ids cycled).

    Columns: `prompt`, `env_id`, `seed`, `task_id`. With `conversational=False` (for
    `StepgymRollout`) the prompt is `episode_prompt`'s JSON; with `True` (for `tool_environment`)
    it is a chat whose last user message the env's `reset` completes with the first observation.
    """
    from datasets import Dataset

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rows: dict[str, list] = {"prompt": [], "env_id": [], "seed": [], "task_id": []}
    for i in range(n):
        task_id = task_ids[i % len(task_ids)] if task_ids else ""
        rows["env_id"].append(env_id)
        rows["seed"].append(seed + i)
        rows["task_id"].append(task_id)
        if conversational:
            chat = [{"role": "system", "content": system_prompt}] if system_prompt else []
            rows["prompt"].append(chat + [{"role": "user", "content": ""}])
        else:
            rows["prompt"].append(episode_prompt(env_id, seed + i, task_id or None))
    return Dataset.from_dict(rows)


def _parse_prompt(prompt: Any) -> dict[str, Any]:
    text = prompt if isinstance(prompt, str) else None
    try:
        spec = json.loads(text) if text is not None else None
    except json.JSONDecodeError:
        spec = None
    if not isinstance(spec, dict) or not isinstance(spec.get("env_id"), str):
        raise ValueError(
            "StepgymRollout reads prompts made by episode_prompt / episode_dataset, JSON like "
            f'{{"env_id": "stepgym/Sokoban-v0", "seed": 3}}; got {str(prompt)[:80]!r}'
        )
    return spec


# -- reward functions (pure: they read the extra fields the rollout returned) --------------------
def env_reward(completions: list, env_reward: list[float | None], **kwargs: Any) -> list[float | None]:
    """The env's episode return for each completion (None where infrastructure failed: unscored).

    >>> env_reward(["a", "b"], env_reward=[1.0, 0.0])
    [1.0, 0.0]
    """
    return list(env_reward)


def invalid_action_penalty(completions: list, action_valid: list[list[bool]],
                           **kwargs: Any) -> list[float]:
    """-0.1 per invalid action of each episode (GiGPO's penalty).

    >>> invalid_action_penalty(["a"], action_valid=[[True, False, False]])
    [-0.2]
    """
    return [-INVALID_ACTION_PENALTY * sum(not v for v in valid) for valid in action_valid]


def first_messages(episode: EnvEpisode) -> list[dict[str, str]]:
    """The chat an episode starts from: stepgym's system prompt (with the env's action grammar)
    and the instruction with the first observation."""
    return [{"role": "system", "content": episode.system_prompt()},
            {"role": "user", "content": episode.first_message()}]


# -- rollout_func ------------------------------------------------------------------------------
class StepgymRollout:
    """A `rollout_func` for `GRPOTrainer`: every completion is one whole episode of a stepgym env.

    Generation goes through the trainer's own single-turn generator (transformers `generate`, or
    vLLM in colocate or server mode, with the trainer's sampling settings), one batched call per
    turn over the episodes still running. An episode stops when it terminates, is truncated, has
    made `max_turns` moves, or the next observation would not fit `max_completion_length`.

    Returned per completion: `prompt_ids`, `completion_ids`, `logprobs` (vLLM's, 0.0 on env
    tokens; None without vLLM), `env_mask`, and the extra fields `env_reward` (None after an
    infrastructure failure), `success`, `step_rewards`, `state_keys` (the state each action was
    taken in), `action_valid`, `num_turns`, `task_id`.
    """

    def __init__(self, *, env_kwargs: dict[str, Any] | None = None, max_turns: int | None = None,
                 max_turn_tokens: int | None = None, record_dir: str | Path | None = None) -> None:
        if max_turns is not None and max_turns < 1:
            raise ValueError(f"max_turns must be >= 1 or None, got {max_turns}")
        if max_turn_tokens is not None and max_turn_tokens < 1:
            raise ValueError(f"max_turn_tokens must be >= 1 or None, got {max_turn_tokens}")
        self.env_kwargs = dict(env_kwargs or {})
        self.max_turns = max_turns
        self.max_turn_tokens = max_turn_tokens
        self.record_dir = record_dir
        self._pools: dict[str, list[EnvEpisode]] = {}  # built once, reset per episode
        self._checked_templates: set[str] = set()

    def _episodes(self, env_ids: list[str]) -> list[EnvEpisode]:
        out, used = [], {}
        for env_id in env_ids:
            pool = self._pools.setdefault(env_id, [])
            i = used.get(env_id, 0)
            if i == len(pool):
                pool.append(EnvEpisode(env_id, self.env_kwargs, record_dir=self.record_dir,
                                       policy_meta={"trainer": "trl.GRPOTrainer"}))
            used[env_id] = i + 1
            out.append(pool[i])
        return out

    def __call__(self, prompts: list, trainer: Any) -> dict[str, list]:
        specs = [_parse_prompt(p) for p in prompts]
        generate = getattr(trainer, "_generate_single_turn", None)
        if generate is None:
            raise RuntimeError("StepgymRollout needs trl>=1.16's GRPOTrainer (it has no _generate_single_turn)")
        tok = trainer.processing_class
        tok = getattr(tok, "tokenizer", tok)
        budget = int(trainer.args.max_completion_length)
        episodes = self._episodes([s["env_id"] for s in specs])
        prompt_ids, completion_ids, env_mask, logprobs = [], [], [], []
        for ep, spec in zip(episodes, specs):
            ep.reset(seed=spec.get("seed"), task_id=spec.get("task_id"))
            prompt_ids.append(list(tok.apply_chat_template(first_messages(ep), add_generation_prompt=True,
                                                           tokenize=True, return_dict=False)))
            completion_ids.append([]); env_mask.append([]); logprobs.append([])
        have_logprobs = True
        active = list(range(len(episodes)))
        while active:
            contexts = [prompt_ids[i] + completion_ids[i] for i in active]
            room = max(budget - len(completion_ids[i]) for i in active)
            with _max_new_tokens(trainer, min(room, self.max_turn_tokens or room)):
                new_ids, new_lps = generate(contexts, None, {}, 1)
            have_logprobs = have_logprobs and new_lps is not None
            still = []
            for j, i in enumerate(active):
                room = min(budget - len(completion_ids[i]), self.max_turn_tokens or budget)
                ids = list(new_ids[j])[:room]
                completion_ids[i] += ids
                env_mask[i] += [1] * len(ids)
                logprobs[i] += list(new_lps[j][:room]) if new_lps is not None else [0.0] * len(ids)
                ep = episodes[i]
                ep.step(tok.decode(ids, skip_special_tokens=True))
                if ep.done or (self.max_turns is not None and len(ep.rewards) >= self.max_turns):
                    continue
                env_ids = self._env_tokens(tok, ep.observation_message(), ended_with_eos=(
                    bool(ids) and ids[-1] == tok.eos_token_id))
                if len(completion_ids[i]) + len(env_ids) >= budget:
                    continue  # no room for the observation and a reply: the episode is cut here
                completion_ids[i] += env_ids
                env_mask[i] += [0] * len(env_ids)
                logprobs[i] += [0.0] * len(env_ids)
                still.append(i)
            active = still
        for ep in episodes:
            ep.finish()
        return {
            "prompt_ids": prompt_ids, "completion_ids": completion_ids,
            "logprobs": logprobs if have_logprobs else None, "env_mask": env_mask,
            "env_reward": [None if ep.error else ep.total_reward for ep in episodes],
            "success": [ep.success for ep in episodes],
            "step_rewards": [list(ep.rewards) for ep in episodes],
            "state_keys": [list(ep.state_keys) for ep in episodes],
            "action_valid": [list(ep.action_valid) for ep in episodes],
            "num_turns": [len(ep.rewards) for ep in episodes],
            "task_id": [ep.task_id for ep in episodes],
        }

    def _env_tokens(self, tok: Any, observation: str, *, ended_with_eos: bool) -> list[int]:
        """Token ids that follow a model turn: the end of that turn, the observation, the next
        assistant header, all as the model's own chat template renders them."""
        template = tok.chat_template or ""
        if template not in self._checked_templates:
            _check_prefix_preserving(tok)
            self._checked_templates.add(template)
        rendered = tok.apply_chat_template(
            [{"role": "user", "content": "x"}, {"role": "assistant", "content": _MARK},
             {"role": "user", "content": observation}], tokenize=False, add_generation_prompt=True)
        text = rendered[rendered.index(_MARK) + len(_MARK):]
        eos = tok.eos_token or ""
        if ended_with_eos and eos and text.startswith(eos):
            text = text[len(eos):]  # the model already produced the end-of-turn token
        return list(tok(text, add_special_tokens=False)["input_ids"])


_MARK = "\u2063STEPGYM-TURN\u2063"


@contextmanager
def _max_new_tokens(trainer: Any, n: int) -> Iterator[None]:
    """Cap one turn's generation at `n` tokens in the trainer's generators (transformers' generation
    config, vLLM's per-call limit), restoring them afterwards."""
    targets = [(getattr(trainer, "generation_config", None), "max_new_tokens"),
               (getattr(trainer, "vllm_generation", None), "max_completion_length")]
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr in targets
             if obj is not None and getattr(obj, attr, None) is not None]
    for obj, attr, _ in saved:
        setattr(obj, attr, n)
    try:
        yield
    finally:
        for obj, attr, value in saved:
            setattr(obj, attr, value)


def _check_prefix_preserving(tok: Any) -> None:
    """Raise unless appending a user turn leaves the rendering of earlier turns unchanged (token
    concatenation across turns is only exact for such templates)."""
    base = [{"role": "user", "content": "x"}, {"role": "assistant", "content": _MARK}]
    short = tok.apply_chat_template(base, tokenize=False)
    longer = tok.apply_chat_template(base + [{"role": "user", "content": "y"}], tokenize=False,
                                     add_generation_prompt=True)
    if _MARK not in short or not longer.startswith(short):
        raise ValueError("the tokenizer's chat template is not prefix-preserving (appending a user turn "
                         "re-renders earlier turns); multi-turn rollouts need one that is")


# -- environment_factory: visual envs as typed tools --------------------------------------------
class ToolEnvironment:
    """Base of the classes `tool_environment` builds: one env episode per TRL rollout.

    TRL constructs it with no arguments, calls `reset(**dataset_row)` before each rollout, exposes
    every public method as a tool and adds `get_reward` as a reward function.
    """

    env_id: str = ""
    env_kwargs: dict[str, Any] = {}
    record_dir: str | None = None
    max_image_pixels: int | None = None

    def __init__(self) -> None:
        self._episode = EnvEpisode(self.env_id, self.env_kwargs, record_dir=self.record_dir,
                                   policy_meta={"trainer": "trl.GRPOTrainer"})

    def reset(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Start the row's episode (`seed`, `task_id` columns); return the first observation."""
        seed = kwargs.get("seed")
        first = self._episode.reset(seed=None if seed is None else int(seed),
                                    task_id=kwargs.get("task_id") or None)
        instruction = self._episode.instruction
        return self._content(first, "" if instruction in first.text else f"Task: {instruction}\n")

    def get_reward(self) -> float | None:
        """The episode's return so far (None after an infrastructure failure: not scored)."""
        self._episode.finish()  # TRL scores a rollout once its tool loop has ended
        return None if self._episode.error else self._episode.total_reward

    # -- what the trainer can read after a rollout
    @property
    def episode(self) -> EnvEpisode:
        return self._episode

    def _act(self, action: dict[str, Any] | str) -> list[dict[str, Any]]:
        if self._episode.done:
            raise RuntimeError("the episode is over; no more actions are taken")
        turn = self._episode.step(action)
        note = ""
        if turn.done:
            note = f"\nThe episode is over (success: {turn.success})."
        return self._content(turn, "", note)

    def _content(self, turn: EnvTurn, head: str, tail: str = "") -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if turn.image is not None:
            parts.append({"type": "image", "image": _fit(turn.image, self.max_image_pixels)})
        parts.append({"type": "text", "text": f"{head}{turn.text}{tail}"})
        return parts


def _fit(image: np.ndarray, max_pixels: int | None):
    """A PIL image, shrunk (aspect kept) to at most `max_pixels` pixels."""
    from PIL import Image

    pil = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if max_pixels and pil.width * pil.height > max_pixels:
        scale = (max_pixels / (pil.width * pil.height)) ** 0.5
        pil = pil.resize((max(1, int(pil.width * scale)), max(1, int(pil.height * scale))))
    return pil


class MobileTools(ToolEnvironment):
    """AndroidWorld's actions (stepgym/Mobile-v0) as tools."""

    def click(self, x: int, y: int) -> list:
        """Tap the screen at a point.

        Args:
            x: horizontal pixel position on the screenshot
            y: vertical pixel position on the screenshot
        """
        return self._act({"action_type": "click", "x": x, "y": y})

    def click_element(self, index: int) -> list:
        """Tap an element of the screen by its index in the observation's element list.

        Args:
            index: the element's number, as listed in the observation
        """
        return self._act({"action_type": "click", "index": index})

    def long_press(self, x: int, y: int) -> list:
        """Press and hold the screen at a point.

        Args:
            x: horizontal pixel position on the screenshot
            y: vertical pixel position on the screenshot
        """
        return self._act({"action_type": "long_press", "x": x, "y": y})

    def scroll(self, direction: str) -> list:
        """Scroll the screen's content.

        Args:
            direction: one of up, down, left, right (down shows what is below)
        """
        return self._act({"action_type": "scroll", "direction": direction})

    def input_text(self, text: str, clear_text: bool = False, index: int | None = None) -> list:
        """Type text into a field (the focused one, or the element `index`), then press Enter.

        Args:
            text: the text to type
            clear_text: clear the field first
            index: the field's number in the observation's element list (default: the focused field)
        """
        action: dict[str, Any] = {"action_type": "input_text", "text": text, "clear_text": clear_text}
        if index is not None:
            action["index"] = index
        return self._act(action)

    def open_app(self, app_name: str) -> list:
        """Open an app by its name.

        Args:
            app_name: the app's name as shown on the home screen
        """
        return self._act({"action_type": "open_app", "app_name": app_name})

    def navigate_home(self) -> list:
        """Go to the home screen."""
        return self._act({"action_type": "navigate_home"})

    def navigate_back(self) -> list:
        """Go back one screen."""
        return self._act({"action_type": "navigate_back"})

    def answer(self, text: str) -> list:
        """Answer the user's question.

        Args:
            text: the answer
        """
        return self._act({"action_type": "answer", "text": text})

    def finish(self, goal_status: str) -> list:
        """End the task.

        Args:
            goal_status: complete (the task is done) or infeasible (it cannot be done)
        """
        return self._act({"action_type": "status", "goal_status": goal_status})


class DesktopTools(ToolEnvironment):
    """OSWorld's computer_13 actions (stepgym/Desktop-v0) as tools."""

    def click(self, x: int, y: int, button: str = "left", num_clicks: int = 1) -> list:
        """Click the mouse at a point.

        Args:
            x: horizontal pixel position on the screenshot
            y: vertical pixel position on the screenshot
            button: left, right or middle
            num_clicks: 1, 2 or 3
        """
        return self._act({"action_type": "CLICK", "x": x, "y": y, "button": button, "num_clicks": num_clicks})

    def right_click(self, x: int, y: int) -> list:
        """Right-click at a point (opens context menus).

        Args:
            x: horizontal pixel position on the screenshot
            y: vertical pixel position on the screenshot
        """
        return self._act({"action_type": "RIGHT_CLICK", "x": x, "y": y})

    def drag_to(self, x: int, y: int) -> list:
        """Drag from the mouse's position to a point with the left button held.

        Args:
            x: horizontal pixel position to drop at
            y: vertical pixel position to drop at
        """
        return self._act({"action_type": "DRAG_TO", "x": x, "y": y})

    def scroll(self, dx: int, dy: int) -> list:
        """Turn the mouse wheel.

        Args:
            dx: horizontal wheel clicks (positive: right)
            dy: vertical wheel clicks (positive: down)
        """
        return self._act({"action_type": "SCROLL", "dx": dx, "dy": dy})

    def type_text(self, text: str) -> list:
        """Type text at the keyboard focus.

        Args:
            text: the text to type
        """
        return self._act({"action_type": "TYPING", "text": text})

    def press(self, key: str) -> list:
        """Press one key.

        Args:
            key: a key name such as enter, tab, esc, backspace, a
        """
        return self._act({"action_type": "PRESS", "key": key})

    def hotkey(self, keys: list[str]) -> list:
        """Press keys together.

        Args:
            keys: key names in order, e.g. ["ctrl", "s"]
        """
        return self._act({"action_type": "HOTKEY", "keys": keys})

    def done(self) -> list:
        """Declare the task done."""
        return self._act({"action_type": "DONE"})

    def fail(self) -> list:
        """Declare the task impossible."""
        return self._act({"action_type": "FAIL"})


class TextActionTools(ToolEnvironment):
    """Any env: one tool that takes the env's own action text."""

    def act(self, action: str) -> list:
        """Take one action in the environment.

        Args:
            action: the action, written in the environment's action grammar
        """
        return self._act(action)


def _tools_for(env_id: str, env_kwargs: dict[str, Any]) -> type[ToolEnvironment]:
    import gymnasium

    import stepgym  # noqa: F401  (registers the ids)

    entry = str(gymnasium.spec(env_id).entry_point)
    kwargs = {**gymnasium.spec(env_id).kwargs, **env_kwargs}
    if entry.endswith(":MobileEnv"):
        return MobileTools
    if entry.endswith(":DesktopEnv") and kwargs.get("action_space", "computer_13") == "computer_13":
        return DesktopTools
    return TextActionTools


def tool_names(cls: type) -> list[str]:
    """The tools TRL would expose for an environment class (its public methods but reset/get_reward)."""
    return sorted(n for n, v in inspect.getmembers(cls, inspect.isfunction)
                  if not n.startswith("_") and n not in ("reset", "get_reward"))


def tool_environment(env_id: str, *, env_kwargs: dict[str, Any] | None = None,
                     record_dir: str | Path | None = None, max_image_pixels: int | None = None,
                     tools: Sequence[str] | None = None) -> type[ToolEnvironment]:
    """An `environment_factory` class for `GRPOTrainer` running `env_id`, one episode per rollout.

    Mobile and Desktop (computer_13) actions become typed tools; any other env gets one `act`
    tool taking its action text. Each tool returns the screenshot (a PIL image, shrunk to
    `max_image_pixels` if set) and the observation text; the env's return is `get_reward`.
    `tools` keeps only the named ones (every tool's schema goes into the prompt).
    """
    import stepgym

    if env_id not in stepgym.list_envs():
        stepgym.make(env_id).close()  # raises UnknownEnvError with close names
    kwargs = dict(env_kwargs or {})
    family = _tools_for(env_id, kwargs)
    available = tool_names(family)
    chosen = available if tools is None else list(tools)
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise ValueError(f"unknown tools {unknown} for {env_id}; expected some of {available}")
    name = "".join(ch for ch in env_id.split("/")[-1].title() if ch.isalnum()) + "Environment"
    return type(name, (ToolEnvironment,), {
        **{t: getattr(family, t) for t in chosen},
        "env_id": env_id, "env_kwargs": kwargs, "max_image_pixels": max_image_pixels,
        "record_dir": None if record_dir is None else str(record_dir),
        "__doc__": f"{env_id} as TRL tools: {', '.join(chosen)}.",
    })



# -- oracle tool calls: warm a model up to the tool-call format before GRPO ----------------------
def tool_penalty(completions: list, environments: list, **kwargs: Any) -> list[float]:
    """-0.1 per invalid action in each rollout's episode (GiGPO's penalty), for `environment_factory`
    runs: TRL passes the rollouts' environment instances as `environments`.

    >>> from types import SimpleNamespace as NS
    >>> tool_penalty(["a"], environments=[NS(episode=NS(action_valid=[True, False]))])
    [-0.1]
    """
    return [-INVALID_ACTION_PENALTY * sum(not v for v in env.episode.action_valid) for env in environments]


def _mobile_tool_call(action: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    kind = action.get("action_type")
    has_xy = "x" in action and "y" in action
    if kind == "click" and "index" in action:
        return "click_element", {"index": int(action["index"])}
    if kind in ("click", "long_press") and has_xy and "index" not in action:
        return kind, {"x": int(action["x"]), "y": int(action["y"])}
    if kind == "scroll" and set(action) == {"action_type", "direction"}:
        return "scroll", {"direction": action["direction"]}
    if kind == "input_text":
        args = {"text": action["text"], "clear_text": bool(action.get("clear_text", False))}
        return "input_text", {**args, **({"index": int(action["index"])} if "index" in action else {})}
    if kind == "open_app":
        return "open_app", {"app_name": action["app_name"]}
    if kind in ("navigate_home", "navigate_back"):
        return kind, {}
    if kind == "answer":
        return "answer", {"text": action["text"]}
    if kind == "status":
        return "finish", {"goal_status": action["goal_status"]}
    return None


def oracle_tool_call(env_cls: type[ToolEnvironment], action: str) -> tuple[str, dict[str, Any]]:
    """The tool call (name, arguments) of `env_cls` that performs the env's oracle `action` text.

    Mobile-v0's AndroidWorld JSON maps onto `MobileTools` (`{"action_type": "click", "index": 3}`
    is `click_element(index=3)`, `status` is `finish`); a one-`act` env takes the text as is.
    Raises ValueError when no tool of `env_cls` performs the action.
    """
    tools = tool_names(env_cls)
    if tools == ["act"]:
        return "act", {"action": action}
    call = None
    if set(tools) <= set(tool_names(MobileTools)):
        try:
            parsed = json.loads(action)
        except json.JSONDecodeError:
            parsed = None
        call = _mobile_tool_call(parsed) if isinstance(parsed, dict) else None
    if call is None or call[0] not in tools:
        raise ValueError(f"no tool of {env_cls.__name__} performs the oracle action {action!r}; its tools are "
                         f"{tools} (pass tools= to tool_environment so that they cover the oracle's actions)")
    return call


def oracle_conversation(env_cls: type[ToolEnvironment], *, seed: int, task_id: str | None = None,
                        system_prompt: str | None = None, max_calls: int | None = None) -> list[dict[str, Any]]:
    """The chat TRL's tool loop would build if the model played the env's oracle, one tool call a turn.

    Messages: the optional system prompt; the user turn completed by `reset`'s first observation
    (as TRL does: an empty text part, then the screenshot and text); then per oracle step an
    assistant turn with one tool call and the tool's result (screenshot and observation); and,
    once the episode is over, an empty assistant turn (the model stops calling tools). At most
    `max_calls` tool calls (then no closing turn). Episodes are not recorded.
    """
    env = type(env_cls.__name__, (env_cls,), {"record_dir": None})()
    try:
        first = env.reset(seed=seed, task_id=task_id)
        chat = [{"role": "system", "content": system_prompt}] if system_prompt else []
        chat.append({"role": "user", "content": [{"type": "text", "text": ""}, *first]})
        while not env.episode.done and (max_calls is None or len(env.episode.rewards) < max_calls):
            name, args = oracle_tool_call(env_cls, env.episode.env.unwrapped.oracle_action())
            result = getattr(env, name)(**args)
            chat.append({"role": "assistant", "content": "",
                         "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}]})
            chat.append({"role": "tool", "name": name, "content": result})
        if env.episode.done:
            chat.append({"role": "assistant", "content": ""})
    finally:
        env.episode.close()
    return chat


def sft_tool_calls(model: Any, processor: Any, env_cls: type[ToolEnvironment], seeds: Sequence[int], *,
                   task_ids: Sequence[str] | None = None, system_prompt: str | None = None,
                   max_calls: int | None = None, epochs: int = 10, lr: float = 3e-3,
                   batch_size: int | None = 1, seed: int = 0) -> list[float]:
    """Behaviour-clone the env's oracle tool calls into `model`; returns the loss of each epoch.

    A warm start for GRPO through `environment_factory`: a model that never emits a parseable tool
    call gives rollouts without tool turns and groups without reward differences. Each
    conversation (`oracle_conversation`, one per seed, task ids cycled) is rendered by the
    processor's chat template with `env_cls`'s tool schemas, exactly as `GRPOTrainer` renders its
    prompts and tool results (TRL's training variant of the template where it has one), and the
    loss is on the assistant turns only, up to their end-of-turn token. Each epoch visits every
    conversation once: one AdamW step per `batch_size` conversations (shuffled by `seed`; None, one
    step over all of them), loss averaged within the step; images go through the vision tower as in
    training.
    """
    import torch
    from trl.chat_template_utils import get_training_chat_template

    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None (all conversations), got {batch_size}")
    tok = getattr(processor, "tokenizer", processor)
    template = get_training_chat_template(processor) or processor.chat_template
    if not re.search(r"{%-?\s*generation\s*-?%}", template or ""):
        raise ValueError("sft_tool_calls needs a chat template with {% generation %} markers (TRL ships training "
                         "variants of the templates it knows, e.g. trl/chat_templates/qwen3_vl_training.jinja)")
    probe = env_cls.__new__(env_cls)  # the tool schemas come from bound methods, as in GRPOTrainer
    tools = [getattr(probe, n) for n in tool_names(env_cls)]
    rows = []
    for i, s in enumerate(seeds):
        chat = oracle_conversation(env_cls, seed=int(s), task_id=task_ids[i % len(task_ids)] if task_ids else None,
                                   system_prompt=system_prompt, max_calls=max_calls)
        enc = processor.apply_chat_template(chat, tools=tools, chat_template=template, tokenize=True,
                                            return_dict=True, return_assistant_tokens_mask=True, return_tensors="pt")
        ids, mask = enc["input_ids"][0], enc.pop("assistant_masks")[0].bool()
        mask &= ~_after_end_of_turn(ids, mask, tok.eos_token_id)
        labels = torch.where(mask, ids, torch.full_like(ids, -100))
        rows.append({**{k: v for k, v in enc.items() if k != "attention_mask"}, "labels": labels[None]})
    size = batch_size or len(rows)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(rows), generator=gen).tolist() if size < len(rows) else list(range(len(rows)))
        total = 0.0
        for start in range(0, len(order), size):
            chunk = order[start:start + size]
            opt.zero_grad()
            for j in chunk:
                loss = model(**rows[j]).loss / len(chunk)
                loss.backward()
                total += float(loss.detach()) * len(chunk) / len(rows)
            opt.step()
        losses.append(total)
    model.eval()
    return losses


def _after_end_of_turn(ids: Any, mask: Any, eos_id: int) -> Any:
    """True on the assistant-mask tokens that follow their turn's end-of-turn token (the template's
    newline after it: the model stops at the end-of-turn token and never generates those)."""
    import torch

    out = torch.zeros_like(mask)
    seen_eos = False
    for j in range(len(ids)):
        if not mask[j]:
            seen_eos = False
        elif seen_eos:
            out[j] = True
        elif int(ids[j]) == eos_id:
            seen_eos = True
    return out
