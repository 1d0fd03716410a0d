"""Imports the modules whose import registers the components stepgym ships.

A component registers itself when its module is imported (`@ESTIMATORS.register(...)`,
`@LOSSES.register(...)`, `@ROLLOUTS.register(...)`, `@ENGINES.register(...)`); the trainer imports
this module, so a shipped component needs one line here. A user's own component only needs its
module imported before the trainer looks it up.
"""

import stepgym.trainers.vllm_engine  # noqa: F401  (vllm itself is imported when the engine is built)
from stepgym.trainers import (  # noqa: F401
    branching,
    engines,
    estimators,
    losses,
    replay,
    strategy,
    tree_estimators,
)
