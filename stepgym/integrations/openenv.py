"""Any stepgym env as an OpenEnv environment (openenv 0.10, import `openenv.core`), and its client.

    stepgym serve-env stepgym/Sokoban-v0 --port 8000          # one env per WebSocket session

    from stepgym.integrations.openenv import StepgymClient
    with StepgymClient(base_url="http://127.0.0.1:8000") as env:
        first = env.reset(seed=3, task_id="sokoban_6x6_1box-test-0003")
        result = env.step(StepgymAction(action="<action>left</action>"))
        result.observation.state_key, result.reward, result.done

Wire schema. Action: `{"action": "<the env's action text>"}` (a JSON object is passed on as a
structured action). Observation: `text`, `state_key`, `action_valid`, `action_error`, `success`,
`image` (base64 PNG, visual envs only), `error` (an infrastructure failure, not the agent's),
at reset also `task_id`, `instruction`, `action_doc`; plus OpenEnv's `reward` and `done`.

Sessions go over `/ws`: each connection gets its own env, closed when the connection ends (also
when the client dies without closing). OpenEnv's HTTP `/reset` and `/step` build a fresh env per
request, so they only suit one-step use. Nothing an agent sends drops the connection: a malformed
action comes back as `action_valid=False`, a step after the episode ended or before any reset as
an observation whose `action_error` says to reset.
"""

from __future__ import annotations

from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, Observation, State
from pydantic import ConfigDict, Field

from stepgym.integrations.episode import EnvEpisode, EnvTurn, png_base64


class StepgymAction(Action):
    """One agent action: the env's own action text (or a JSON object for structured actions)."""

    # Anything else a client sends is reported back as an invalid action, never a protocol error.
    model_config = ConfigDict(extra="allow", validate_assignment=True, arbitrary_types_allowed=True)
    action: Any = Field(default=None, description="the env's action text, e.g. '<action>left</action>'")


class StepgymObservation(Observation):
    """What a stepgym env returned, in JSON."""

    text: str = ""
    image: str | None = Field(default=None, description="base64 PNG screenshot (visual envs)")
    state_key: str = ""
    action_valid: bool = True
    action_error: str | None = None
    success: bool = False
    error: str | None = Field(default=None, description="infrastructure failure (not the agent's)")
    task_id: str = ""
    instruction: str = ""
    action_doc: str = ""


class StepgymState(State):
    """Session state: the env, its current task and seed, and the return so far."""

    env_id: str = ""
    task_id: str = ""
    seed: int | None = None
    total_reward: float = 0.0


class StepgymEnvironment(Environment[StepgymAction, StepgymObservation, StepgymState]):
    """One stepgym env per OpenEnv session (`reset(seed, task_id)`, `step(action)`)."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.env_id = env_id
        self._episode = EnvEpisode(env_id, env_kwargs)
        self._episode_id: str | None = None
        self._started = False

    def reset(self, seed: int | None = None, episode_id: str | None = None,
              task_id: str | None = None, **kwargs: Any) -> StepgymObservation:
        if kwargs:
            return self._refusal(f"unknown reset arguments {sorted(kwargs)}; expected seed, task_id, episode_id")
        try:
            turn = self._episode.reset(seed=seed, task_id=task_id)
        except (KeyError, ValueError, TypeError) as exc:  # e.g. an unknown task id
            return self._refusal(f"reset failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        self._episode_id = episode_id
        self._started = True
        obs = self._observation(turn)
        obs.task_id = self._episode.task_id
        obs.instruction = self._episode.instruction
        obs.action_doc = self._episode.action_doc
        return obs

    def step(self, action: StepgymAction, timeout_s: float | None = None, **kwargs: Any) -> StepgymObservation:
        if not self._started or self._episode.done:
            return self._refusal("the episode is over (or was never started); send reset first")
        extra = sorted((action.model_extra or {}).keys())
        if extra or not isinstance(action.action, (str, dict)):
            error = (f"unknown action fields {extra}; send {{\"action\": \"<action text>\"}}" if extra else
                     f"action must be the env's action text (a string), got {type(action.action).__name__}")
            return self._refusal(error, keep_state=True)
        return self._observation(self._episode.step(action.action))

    def _refusal(self, message: str, keep_state: bool = False) -> StepgymObservation:
        """An invalid action that did not reach the env (the env is unchanged)."""
        last = self._episode.last if keep_state else None
        return StepgymObservation(
            text=f"{last.text}\n{message}" if last else message, state_key=last.state_key if last else "",
            action_valid=False, action_error=message, done=bool(last is None or last.done), reward=0.0)

    @staticmethod
    def _observation(turn: EnvTurn) -> StepgymObservation:
        return StepgymObservation(
            text=turn.text, image=None if turn.image is None else png_base64(turn.image),
            state_key=turn.state_key, action_valid=turn.action_valid, action_error=turn.action_error,
            success=turn.success, error=turn.error, reward=turn.reward, done=turn.done)

    @property
    def state(self) -> StepgymState:
        ep = self._episode
        return StepgymState(episode_id=self._episode_id, step_count=len(ep.rewards), env_id=self.env_id,
                            task_id=ep.task_id, seed=ep.seed, total_reward=ep.total_reward)

    def close(self) -> None:
        self._episode.close()


def create_app(env_id: str, env_kwargs: dict[str, Any] | None = None, *, max_sessions: int = 64):
    """The FastAPI app serving `env_id` (each `/ws` session its own env, at most `max_sessions`)."""
    from openenv.core.env_server.http_server import create_app as openenv_app

    import stepgym

    stepgym.make(env_id, **dict(env_kwargs or {})).close()  # fail now, with stepgym's error, on a bad id

    def factory() -> StepgymEnvironment:
        return StepgymEnvironment(env_id, env_kwargs)

    return openenv_app(factory, StepgymAction, StepgymObservation, env_name=env_id.split("/")[-1],
                       max_concurrent_envs=max_sessions)


def serve(env_id: str, *, host: str = "127.0.0.1", port: int = 8000, env_kwargs: dict[str, Any] | None = None,
          max_sessions: int = 64, log_level: str = "warning") -> None:
    """Run the server until interrupted (what `stepgym serve-env` does)."""
    import uvicorn

    uvicorn.run(create_app(env_id, env_kwargs, max_sessions=max_sessions), host=host, port=port,
                log_level=log_level, ws_max_size=64 * 2**20)


class StepgymClient(EnvClient[StepgymAction, StepgymObservation, StepgymState]):
    """OpenEnv client of a `stepgym serve-env` server: typed observations over one `/ws` session."""

    def _step_payload(self, action: StepgymAction | str) -> dict[str, Any]:
        if isinstance(action, str):
            return {"action": action}
        return action.model_dump(exclude={"metadata"}, exclude_none=False)

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[StepgymObservation]:
        obs = StepgymObservation(**payload.get("observation", {}), reward=payload.get("reward"),
                                 done=bool(payload.get("done", False)))
        return StepResult(observation=obs, reward=payload.get("reward"), done=bool(payload.get("done", False)),
                          metadata=payload.get("metadata"))

    def _parse_state(self, payload: dict[str, Any]) -> StepgymState:
        return StepgymState(**payload)
