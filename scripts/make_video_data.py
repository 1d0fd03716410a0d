"""Write the generated video QA clips shipped in assets/video (deterministic: same seed, same clips).

The shipped set: 16 test clips (seeds 0-15) and 32 train clips (seeds 100-131), the four kinds
in turn, in one tasks.jsonl. The frames, questions, answers and evidence spans are a function of
the seed; the mp4 bytes of clips with motion can differ between runs by libx264's encoding noise
(see `write_video`), so regenerate one split at a time (`--splits train`) to leave the other's
files as they are.

    python scripts/make_video_data.py                 # the shipped set -> assets/video
    python scripts/make_video_data.py --splits train  # only the train clips (appended)
    python scripts/make_video_data.py --out data/v --n 200 --seed 1000 --kinds needle
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stepgym.envs.video.generate import KINDS, write_dataset

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {"test": (16, 0), "train": (32, 100)}  # split -> (clips, first seed)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "assets" / "video"))
    p.add_argument("--splits", nargs="+", default=list(SHIPPED), choices=list(SHIPPED),
                   help="which of the shipped splits to (re)write; others in tasks.jsonl stay")
    p.add_argument("--n", type=int, default=None, help="a custom set of N clips (kinds in turn) instead")
    p.add_argument("--seed", type=int, default=0, help="first seed of a custom set")
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--height", type=int, default=128)
    p.add_argument("--width", type=int, default=160)
    args = p.parse_args()
    video = {"fps": args.fps, "height": args.height, "width": args.width}
    if args.n is not None:
        path = write_dataset(args.out, args.n, args.seed, args.kinds, **video)
    else:
        for split in args.splits:
            n, seed = SHIPPED[split]
            path = write_dataset(args.out, n, seed, args.kinds, split=split, append=True, **video)
    size = sum(f.stat().st_size for f in Path(args.out).iterdir())
    print(f"wrote {path} ({size / 1024:.0f} KiB in {args.out})")


if __name__ == "__main__":
    main()
