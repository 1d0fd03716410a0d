from stepgym.envs.sokoban.env import SokobanEnv, parse_move
from stepgym.envs.sokoban.level import Level, generate, solve

__all__ = ["SokobanEnv", "Level", "generate", "solve", "parse_move"]
