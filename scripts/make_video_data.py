"""Write the generated video QA clips shipped in assets/video (deterministic: same seed, same clips).

The frames, questions, answers and evidence spans are a function of the seed; the mp4 bytes of
clips with motion can differ between runs by libx264's encoding noise (see `write_video`).

    python scripts/make_video_data.py                 # the shipped set -> assets/video
    python scripts/make_video_data.py --out data/v --n 200 --seed 100 --kinds needle
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stepgym.envs.video.generate import KINDS, write_dataset

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "assets" / "video"))
    p.add_argument("--n", type=int, default=16, help="number of clips (kinds in turn)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--height", type=int, default=128)
    p.add_argument("--width", type=int, default=160)
    args = p.parse_args()
    path = write_dataset(args.out, args.n, args.seed, args.kinds, fps=args.fps, height=args.height,
                         width=args.width)
    size = sum(f.stat().st_size for f in Path(args.out).iterdir())
    print(f"wrote {args.n} clips and {path} ({size / 1024:.0f} KiB in {args.out})")


if __name__ == "__main__":
    main()
