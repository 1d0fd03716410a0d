"""Imports the modules whose import registers the components stepgym ships.

A component registers itself when its module is imported (`@ESTIMATORS.register(...)`,
`@LOSSES.register(...)`, `@ROLLOUTS.register(...)`, `@ENGINES.register(...)`); the trainer imports
this module, so a shipped component needs one line here. A user's own component only needs its
module imported before the trainer looks it up.
"""

from stepgym.trainers import engines, estimators, losses, strategy  # noqa: F401
from stepgym.trainers import replay  # noqa: F401
