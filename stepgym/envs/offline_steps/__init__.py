"""One-step episodes over recorded GUI steps, scored by the offline card's rule (offline RL from recordings)."""

from stepgym.envs.offline_steps.env import OfflineStepsEnv, score_completion

__all__ = ["OfflineStepsEnv", "score_completion"]
