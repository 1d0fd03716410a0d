"""Sokoban: push every box onto a target. The reference env for algorithm work (states repeat)."""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

import numpy as np

from stepgym.envs.core import ActionError, Outcome, StepEnv
from stepgym.envs.sokoban.level import MOVES, Level, apply_move, generate, live_cells, solve
from stepgym.envs.tasks import Task, TaskSuite
from stepgym.paths import asset_path

ACTION_DOC = """\
Move the player one cell with one of: up, down, left, right.
Write the move inside <action></action>, e.g. <action>left</action>; a bare word also works.
Walking into a wall or into a box that cannot move does nothing. Push boxes ($) onto targets (.);
you cannot pull. The grid shows one symbol per cell, separated by spaces: # wall, _ floor, . target, $ box, * box on target, @ you, + you on a target."""

INSTRUCTION = "Push every box onto a target."

_TAG = re.compile(r"<action>(.*?)</action>", re.IGNORECASE | re.DOTALL)
_WORD = re.compile(r"\b(up|down|left|right)\b", re.IGNORECASE)

CELL = 16
# tile colours: wall, floor, target, box, box on target, player, player on target
_WALL_RGB, _FLOOR_RGB = (96, 64, 48), (214, 206, 190)
_TARGET_RGB, _BOX_RGB, _BOX_DONE_RGB, _PLAYER_RGB = (200, 40, 40), (222, 140, 40), (60, 170, 70), (40, 80, 200)


def _make_tiles() -> np.ndarray:
    """7 tiles of CELL×CELL×3: wall, floor, target, box, box-on-target, player, player-on-target."""
    yy, xx = np.mgrid[0:CELL, 0:CELL]
    centre = (CELL - 1) / 2
    dist = np.hypot(yy - centre, xx - centre)
    floor = np.empty((CELL, CELL, 3), np.uint8)
    floor[:] = _FLOOR_RGB
    wall = np.empty_like(floor)
    wall[:] = _WALL_RGB
    wall[(yy % 8 == 0) | ((xx + 4 * (yy // 8)) % 8 == 0)] = (70, 45, 35)  # brick joints
    target = floor.copy()
    target[(dist > 3) & (dist < 5.5)] = _TARGET_RGB
    box = floor.copy()
    inner = (yy >= 2) & (yy < CELL - 2) & (xx >= 2) & (xx < CELL - 2)
    box[inner] = _BOX_RGB
    box[inner & ((yy == xx) | (yy == CELL - 1 - xx))] = (150, 90, 20)
    box_done = box.copy()
    box_done[inner] = _BOX_DONE_RGB
    player = floor.copy()
    player[dist < 5.5] = _PLAYER_RGB
    player_t = target.copy()
    player_t[dist < 3.5] = _PLAYER_RGB
    return np.stack([wall, floor, target, box, box_done, player, player_t])


_TILES = _make_tiles()
_CODE = {"#": 0, "_": 1, ".": 2, "$": 3, "*": 4, "@": 5, "+": 6}


def _offsets(origin: tuple[int, int], cells) -> str:
    """'2 down 1 left; 0 down 3 right' style offsets of cells from origin."""
    parts = []
    for r, c in sorted(cells):
        dr, dc = r - origin[0], c - origin[1]
        vertical = f"{abs(dr)} {'down' if dr >= 0 else 'up'}"
        horizontal = f"{abs(dc)} {'right' if dc >= 0 else 'left'}"
        parts.append(f"{vertical} {horizontal}")
    return "; ".join(parts)


def parse_move(action: str | dict) -> str:
    """The direction named by an agent's text (or `{"move": ...}` dict); ActionError otherwise."""
    if isinstance(action, dict):
        move = action.get("move", action.get("action"))
        if not isinstance(move, str) or move.lower() not in MOVES:
            raise ActionError(f"expected a dict like {{'move': 'up'}} with one of up/down/left/right, got {action!r:.80}")
        return move.lower()
    tagged = _TAG.findall(action)
    text = tagged[-1] if tagged else action
    found = _WORD.findall(text)
    if not found:
        shown = text.strip().replace("\n", " ")[:60]
        raise ActionError(
            f"expected one of up, down, left, right (e.g. <action>left</action>), got {shown!r}"
        )
    return found[0].lower()


_REDRAWS = 100  # fresh levels drawn before procedural generation gives up on avoiding excluded ones


def _grid_key(rows: list[str]) -> str:
    return "|".join(rows)


def _grids(suite: TaskSuite) -> frozenset[str]:
    return frozenset(_grid_key(t.data["grid"]) for t in suite if isinstance(t.data.get("grid"), list))


@functools.lru_cache(maxsize=8)
def _named_grids(source: str) -> frozenset[str]:
    """The grids of a suite named by a built-in name or a path, read once per process (a pool's
    envs all exclude the same suites)."""
    return _grids(TaskSuite.resolve(source, builtin_suite))


def builtin_suite(name: str) -> TaskSuite:
    """The shipped level suite `name` (assets/sokoban/NAME.jsonl.gz)."""
    return TaskSuite.load(asset_path("sokoban", f"{name}.jsonl.gz"), name=name)


class SokobanEnv(StepEnv):
    """Sokoban: push boxes onto targets on a small grid (text grid + rendered image)."""

    action_doc = ACTION_DOC
    action_examples = ("up", "down", "left", "right", "<action>up</action>", "<action>left</action>")
    visual = True

    def __init__(
        self,
        levels: str | TaskSuite = "sokoban_6x6_1box",
        split: str = "all",
        max_steps: int = 20,
        image: bool = True,
        procedural: dict[str, int] | None = None,
        procedural_exclude: str | TaskSuite | list[str | TaskSuite] = (),
        render_mode: str | None = None,
        feedback: bool = False,
        surroundings: bool = False,
        end_on_deadlock: bool = False,
        deadlock_reward: float = 0.0,
    ) -> None:
        """`levels`: a built-in suite name, a path to a .jsonl(.gz) suite, or a TaskSuite.
        `procedural`: generate a fresh level at each reset from the reset seed instead
        (keys: height, width, num_boxes, min_moves, max_moves). `procedural_exclude`: suites (names,
        paths or TaskSuites) whose levels a fresh level must differ from, so that training on fresh
        levels never meets an evaluation level (2% of fresh 6x6 one-box levels are in
        sokoban_6x6_1box_heldout); a level that collides is drawn again. `image=False` skips rendering.
        `feedback=True` adds a line after a move that changed nothing, into a wall or a blocked
        box ("Last move left: nothing moved."), as ALFWorld answers "Nothing happens."; off by
        default, so the observations of v0 stay as they were. `surroundings=True` adds a line naming
        the cell next to the player in each direction, and for a box the cell beyond it
        ("Next to you: up wall; down box, then wall; ..."): what the grid shows, in words a small
        model reads without locating itself in the 2-D layout; also off by default.
        `end_on_deadlock=True` ends the episode (terminated, not a success, reward
        `deadlock_reward`) as soon as a box stands on a dead square, a cell from which no sequence
        of pushes reaches any target: the test never ends a winnable episode, and the move that
        lost the level becomes the episode's last, instead of being followed by steps that cannot
        matter. Off by default; `info["deadlock"]` says whether the episode ended so."""
        self.visual = bool(image)
        self.end_on_deadlock = bool(end_on_deadlock)
        self.deadlock_reward = float(deadlock_reward)
        if deadlock_reward and not end_on_deadlock:
            raise ValueError(f"deadlock_reward={deadlock_reward!r} needs end_on_deadlock=True")
        self._live: frozenset = frozenset()  # live_cells of the level, when end_on_deadlock
        self.feedback = bool(feedback)
        self.surroundings = bool(surroundings)
        self._blocked: str | None = None
        suite = TaskSuite.resolve(levels, builtin_suite)
        self.procedural = dict(procedural) if procedural else None
        excluded = [procedural_exclude] if isinstance(procedural_exclude, (str, TaskSuite)) else list(procedural_exclude)
        if excluded and not self.procedural:
            raise ValueError(f"procedural_exclude={procedural_exclude!r} needs procedural levels (procedural=None)")
        self._excluded = frozenset().union(*(_grids(x) if isinstance(x, TaskSuite) else _named_grids(str(x))
                                             for x in excluded))
        super().__init__(suite, split=split, max_steps=max_steps, render_mode=render_mode)
        self.level: Level | None = None
        self.player: tuple[int, int] = (0, 0)
        self.boxes: frozenset = frozenset()
        self._plan: list[tuple[tuple, frozenset, str]] = []

    def _choose_task(self, options):
        if self.procedural and not (options or {}).get("task_id") and not (options or {}).get("task"):
            for _ in range(_REDRAWS):
                level, sol = generate(self.np_random, **self.procedural)
                key = _grid_key(level.rows())
                if key not in self._excluded:
                    break
            else:
                raise RuntimeError(f"{_REDRAWS} fresh levels in a row were all excluded levels: "
                                   f"procedural={self.procedural} makes too few distinct levels")
            # a digest, not hash(): str hashes are salted per process, so the same level would get
            # another id in every run and worker
            digest = hashlib.sha1(key.encode()).hexdigest()
            return Task(
                task_id=f"proc-{int(digest, 16) % 10**10:010d}",
                instruction=INSTRUCTION,
                split="procedural",
                data={"grid": level.rows(), "solution_moves": len(sol)},
            )
        return super()._choose_task(options)

    def _load_task(self, task: Task) -> None:
        grid = task.data.get("grid")
        if not isinstance(grid, list):
            raise ValueError(f"Sokoban task {task.task_id!r} needs data['grid'], a list of rows")
        self.level = Level.parse(grid)
        self.player, self.boxes = self.level.player, self.level.boxes
        self._plan = []
        self._blocked = None
        self._live = live_cells(self.level) if self.end_on_deadlock else frozenset()

    def parse_action(self, action):
        return {"move": parse_move(action)}

    def _apply(self, parsed: dict[str, Any]) -> Outcome:
        before = (self.player, self.boxes)
        self.player, self.boxes, _ = apply_move(self.level, self.player, self.boxes, parsed["move"])
        self._blocked = parsed["move"] if (self.player, self.boxes) == before else None
        solved = self.boxes == self.level.targets
        if self._deadlocked():  # targets are live cells, so a deadlocked state is never solved
            return Outcome(reward=self.deadlock_reward, terminated=True, success=False)
        return Outcome(reward=1.0 if solved else 0.0, terminated=solved, success=solved)

    def _deadlocked(self) -> bool:
        return self.end_on_deadlock and not self.boxes <= self._live

    def _step_info(self) -> dict[str, Any]:
        return {"deadlock": self._deadlocked()} if self.end_on_deadlock else {}

    def _snapshot_state(self):
        # positions are tuples and frozensets (immutable); the level never changes in an episode
        return {"level": self.level, "player": self.player, "boxes": self.boxes, "plan": list(self._plan),
                "blocked": self._blocked, "live": self._live}

    def _restore_state(self, state) -> None:
        self.level, self.player, self.boxes = state["level"], state["player"], state["boxes"]
        self._plan, self._blocked = list(state["plan"]), state["blocked"]
        self._live = state["live"]

    def grid(self) -> list[str]:
        return self.level.rows(self.boxes, self.player)

    def _observe_text(self) -> str:
        on = len(self.boxes & self.level.targets)
        # cells separated by spaces: LLM tokenizers merge runs of punctuation ("##__@#") into
        # single tokens, which hides the grid's geometry from the model
        # where things are, in words: models read "2 down, 1 left" more easily than a 2-D layout
        where = (f"Boxes from you: {_offsets(self.player, self.boxes - self.level.targets) or 'none left'}. "
                 f"Free targets from you: {_offsets(self.player, self.level.targets - self.boxes) or 'none'}.")
        blocked = (f"\nLast move {self._blocked}: nothing moved."
                   if self.feedback and self._blocked else "")
        around = f"\nNext to you: {self._next_to()}." if self.surroundings else ""
        return (
            f"{INSTRUCTION}\n" + "\n".join(" ".join(row) for row in self.grid())
            + f"\n{where}{around}\nBoxes on targets: {on}/{len(self.boxes)}. Steps left: {self.max_steps - self.steps}."
            + blocked
        )

    def _cell_name(self, cell: tuple[int, int]) -> str:
        r, c = cell
        if cell in self.level.walls or not (0 <= r < self.level.height and 0 <= c < self.level.width):
            return "wall"
        if cell in self.boxes:
            return "box on target" if cell in self.level.targets else "box"
        return "target" if cell in self.level.targets else "floor"

    def _next_to(self) -> str:
        """'up wall; down box, then floor; left target; right floor' around the player."""
        parts = []
        for move, (dr, dc) in MOVES.items():
            cell = (self.player[0] + dr, self.player[1] + dc)
            name = self._cell_name(cell)
            if cell in self.boxes:
                name += f", then {self._cell_name((cell[0] + dr, cell[1] + dc))}"
            parts.append(f"{move} {name}")
        return "; ".join(parts)

    def _observe_image(self) -> np.ndarray:
        codes = np.array([[_CODE[ch] for ch in row] for row in self.grid()], dtype=np.intp)
        h, w = codes.shape
        return _TILES[codes].transpose(0, 2, 1, 3, 4).reshape(h * CELL, w * CELL, 3)

    def state_key(self) -> str:
        boxes = ",".join(f"{r}.{c}" for r, c in sorted(self.boxes))
        return f"p{self.player[0]}.{self.player[1]}|b{boxes}"

    def oracle_action(self) -> str:
        """Next move of a shortest-push solution from the current state (replans when needed)."""
        if not self._plan or self._plan[0][:2] != (self.player, self.boxes):
            moves = solve(self.level, self.player, self.boxes)
            if moves is None:
                return "up"  # a dead state: no move can help, any move keeps the env valid
            self._plan = []
            pl, bx = self.player, self.boxes
            for m in moves:
                self._plan.append((pl, bx, m))
                pl, bx, _ = apply_move(self.level, pl, bx, m)
        return self._plan.pop(0)[2]
