"""Sokoban levels: parsing, procedural generation by reverse play, and an optimal-push solver.

Grid symbols (XSB, with `_` for floor so that no cell is a space):
`#` wall, `_` floor, `.` target, `$` box, `*` box on target, `@` player, `+` player on target.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

MOVES: dict[str, tuple[int, int]] = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
WALL, FLOOR, TARGET = 0, 1, 2


@dataclass(frozen=True)
class Level:
    """A static room (walls, targets) plus the start positions of the player and boxes."""

    walls: frozenset[tuple[int, int]]
    targets: frozenset[tuple[int, int]]
    boxes: frozenset[tuple[int, int]]
    player: tuple[int, int]
    height: int
    width: int

    @classmethod
    def parse(cls, rows: list[str]) -> Level:
        if not rows or len({len(r) for r in rows}) != 1:
            raise ValueError(f"a level is a list of equal-length rows, got {rows!r}")
        walls, targets, boxes, player = set(), set(), set(), None
        for r, row in enumerate(rows):
            for c, ch in enumerate(row):
                if ch == "#":
                    walls.add((r, c))
                elif ch in ".*+":
                    targets.add((r, c))
                if ch in "$*":
                    boxes.add((r, c))
                if ch in "@+":
                    if player is not None:
                        raise ValueError(f"level has two players: {rows!r}")
                    player = (r, c)
                if ch not in "#_.$*@+":
                    raise ValueError(f"unknown level symbol {ch!r}; expected one of #_.$*@+")
        if player is None:
            raise ValueError(f"level has no player '@': {rows!r}")
        if len(boxes) != len(targets) or not boxes:
            raise ValueError(f"level needs as many boxes as targets (>0): {len(boxes)} vs {len(targets)}")
        return cls(frozenset(walls), frozenset(targets), frozenset(boxes), player, len(rows), len(rows[0]))

    def rows(self, boxes=None, player=None) -> list[str]:
        boxes = self.boxes if boxes is None else boxes
        player = self.player if player is None else player
        out = []
        for r in range(self.height):
            line = []
            for c in range(self.width):
                p = (r, c)
                if p in self.walls:
                    line.append("#")
                elif p == player:
                    line.append("+" if p in self.targets else "@")
                elif p in boxes:
                    line.append("*" if p in self.targets else "$")
                else:
                    line.append("." if p in self.targets else "_")
            out.append("".join(line))
        return out


def _add(p: tuple[int, int], d: tuple[int, int]) -> tuple[int, int]:
    return (p[0] + d[0], p[1] + d[1])


def live_cells(level: Level) -> frozenset[tuple[int, int]]:
    """Cells from which a lone box can still be pushed onto some target (others are dead squares)."""
    live = set(level.targets)
    queue = deque(level.targets)
    while queue:
        b = queue.popleft()
        for d in MOVES.values():
            nb, stand = _add(b, d), _add(_add(b, d), d)
            # pulling the box from b to nb needs the player at nb moving to stand
            if nb not in level.walls and stand not in level.walls and nb not in live:
                if 0 <= stand[0] < level.height and 0 <= stand[1] < level.width:
                    live.add(nb)
                    queue.append(nb)
    return frozenset(live)


def _reachable(level: Level, player, boxes) -> set[tuple[int, int]]:
    seen = {player}
    queue = deque([player])
    while queue:
        p = queue.popleft()
        for d in MOVES.values():
            q = _add(p, d)
            if q not in seen and q not in level.walls and q not in boxes:
                seen.add(q)
                queue.append(q)
    return seen


def _walk(level: Level, start, goal, boxes) -> list[str] | None:
    """Shortest list of moves from start to goal without pushing anything."""
    if start == goal:
        return []
    prev = {start: None}
    queue = deque([start])
    while queue:
        p = queue.popleft()
        for name, d in MOVES.items():
            q = _add(p, d)
            if q in prev or q in level.walls or q in boxes:
                continue
            prev[q] = (p, name)
            if q == goal:
                path = []
                while prev[q] is not None:
                    q, step = prev[q]
                    path.append(step)
                return path[::-1]
            queue.append(q)
    return None


def solve(
    level: Level,
    player=None,
    boxes=None,
    max_states: int = 200_000,
) -> list[str] | None:
    """A move list solving the level from the given state (fewest pushes), or None if unsolvable.

    Breadth-first search over push states: (boxes, the player's reachable region) with
    dead-square pruning. Small rooms solve in milliseconds.
    """
    player = level.player if player is None else player
    boxes = frozenset(level.boxes if boxes is None else boxes)
    if boxes == level.targets:
        return []
    live = live_cells(level)
    if not boxes <= live:
        return None

    def canon(pl, bx):
        return (bx, min(_reachable(level, pl, bx)))

    start = canon(player, boxes)
    # parent[state] = (previous state, player position before the push, box, direction name)
    parent: dict = {start: None}
    frontier = deque([(player, boxes, start)])
    while frontier:
        pl, bx, key = frontier.popleft()
        region = _reachable(level, pl, bx)
        for b in sorted(bx):
            for name, d in MOVES.items():
                stand = (b[0] - d[0], b[1] - d[1])
                dest = _add(b, d)
                if stand not in region or dest in level.walls or dest in bx or dest not in live:
                    continue
                nbx = (bx - {b}) | {dest}
                nkey = canon(b, nbx)
                if nkey in parent:
                    continue
                parent[nkey] = (key, pl, stand, b, name)
                if nbx == level.targets:
                    return _moves_from_parents(level, parent, nkey)
                if len(parent) > max_states:
                    return None
                frontier.append((b, nbx, nkey))
    return None


def _moves_from_parents(level: Level, parent: dict, key) -> list[str]:
    pushes = []
    while parent[key] is not None:
        prev_key, pl, stand, box, name = parent[key]
        pushes.append((pl, stand, box, name, prev_key[0]))
        key = prev_key
    moves: list[str] = []
    for pl, stand, _box, name, boxes_before in reversed(pushes):
        walk = _walk(level, pl, stand, boxes_before)
        assert walk is not None  # stand was in the reachable region when the push was found
        moves.extend(walk)
        moves.append(name)
    return moves


def apply_move(level: Level, player, boxes: frozenset, move: str):
    """(player, boxes, moved) after one move; a blocked move leaves the state as it is."""
    d = MOVES[move]
    nxt = _add(player, d)
    if nxt in level.walls:
        return player, boxes, False
    if nxt in boxes:
        beyond = _add(nxt, d)
        if beyond in level.walls or beyond in boxes:
            return player, boxes, False
        boxes = (boxes - {nxt}) | {beyond}
    return nxt, boxes, True


def generate(
    rng: np.random.Generator,
    height: int = 6,
    width: int = 6,
    num_boxes: int = 1,
    min_moves: int = 3,
    max_moves: int = 12,
    attempts: int = 200,
) -> tuple[Level, list[str]]:
    """A random solvable level and an optimal-push solution, by carving a room and reverse play.

    Boxes start on their targets; the player then walks and *pulls* boxes at random, which is
    the reverse of pushing, so the final layout is solvable by construction. The solver then
    gives the solution and filters levels by solution length.
    """
    if height < 4 or width < 4:
        raise ValueError(f"room must be at least 4x4 including walls, got {height}x{width}")
    for _ in range(attempts):
        floor = _carve(rng, height, width)
        if len(floor) < num_boxes * 2 + 3:
            continue
        cells = sorted(floor)
        pick = rng.choice(len(cells), size=num_boxes + 1, replace=False)
        targets = frozenset(cells[i] for i in pick[:num_boxes])
        player = cells[pick[-1]]
        walls = frozenset(
            (r, c) for r in range(height) for c in range(width) if (r, c) not in floor
        )
        room = Level(walls, targets, targets, player, height, width)
        player, boxes = _reverse_play(rng, room, player, targets, steps=int(rng.integers(10, 60)))
        if boxes & targets:
            continue  # keep levels where no box starts on a target: every box needs work
        level = Level(walls, targets, frozenset(boxes), player, height, width)
        sol = solve(level)
        if sol is not None and min_moves <= len(sol) <= max_moves:
            return level, sol
    raise RuntimeError(
        f"no level with {min_moves}..{max_moves} moves found in {attempts} attempts "
        f"({height}x{width}, {num_boxes} boxes); widen the move range"
    )


def _carve(rng: np.random.Generator, height: int, width: int) -> set[tuple[int, int]]:
    """Floor cells from a random walk inside the border walls."""
    r, c = int(rng.integers(1, height - 1)), int(rng.integers(1, width - 1))
    floor = {(r, c)}
    dirs = list(MOVES.values())
    d = dirs[int(rng.integers(4))]
    for _ in range(int(1.5 * (height + width)) * 2):
        if rng.random() < 0.35:
            d = dirs[int(rng.integers(4))]
        nr, nc = r + d[0], c + d[1]
        if 1 <= nr < height - 1 and 1 <= nc < width - 1:
            r, c = nr, nc
            floor.add((r, c))
            # widen corridors a little so that boxes can be moved around
            if rng.random() < 0.3:
                wr, wc = r + d[1], c + d[0]
                if 1 <= wr < height - 1 and 1 <= wc < width - 1:
                    floor.add((wr, wc))
    return floor


def _reverse_play(rng, room: Level, player, boxes: frozenset, steps: int):
    names = list(MOVES)
    for _ in range(steps):
        d = MOVES[names[int(rng.integers(4))]]
        nxt = _add(player, d)
        if nxt in room.walls or nxt in boxes:
            continue
        behind = (player[0] - d[0], player[1] - d[1])
        if behind in boxes and rng.random() < 0.8:
            boxes = (boxes - {behind}) | {player}  # pull the box along
        player = nxt
    return player, frozenset(boxes)
