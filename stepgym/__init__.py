"""stepgym: environments, agents and step-level RL trainers for multimodal LLM agents.

>>> import stepgym
>>> env = stepgym.make("stepgym/Sokoban-v0")
>>> obs, info = env.reset(seed=0)
>>> sorted(obs)
['image', 'text']
"""

from stepgym.registry import UnknownEnvError, describe, list_envs, make, register

__version__ = "0.1.0"

from stepgym import envs as _builtin_envs  # noqa: E402,F401  (registers the built-in ids)

__all__ = ["register", "make", "list_envs", "describe", "UnknownEnvError", "__version__"]
