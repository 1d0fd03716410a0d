"""Step-matching rules of offline GUI benchmarks, as pure functions of (prediction, ground truth).

One module per benchmark, each rule's thresholds a frozen dataclass with the released defaults:
`aitw`, `androidcontrol` (OS-Atlas and Qwen conventions), `gui_odyssey`, `mind2web` (MindAct and
SeeClick) and `stepgym_actions` (stepgym's own Mobile-v0 / Desktop-v0 recordings). The protocol
cards in `stepgym.episodes.offline.cards` say where each convention comes from.
"""

from stepgym.rewards.offline.base import StepMatch

__all__ = ["StepMatch"]
