"""Regenerate the shipped WebShop catalog (assets/webshop/*.json.gz) byte for byte.

    python scripts/make_webshop_data.py                       # 5,000 products, 3,000 goals -> assets/webshop
    python scripts/make_webshop_data.py --products 100000 --goals 1000 --out /tmp/webshop100k
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from stepgym.envs.webshop.generate import generate


def write(records: dict[str, object], out: Path) -> list[Path]:
    """Write each record as `<name>.json.gz` (gzip mtime 0, so reruns give identical bytes)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, value in records.items():
        path = out / f"{name}.json.gz"
        data = json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as f:
            f.write(data)
        paths.append(path)
    return paths


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--products", type=int, default=5000)
    p.add_argument("--goals", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "assets" / "webshop"))
    args = p.parse_args()
    for path in write(generate(args.products, args.goals, args.seed), Path(args.out)):
        print(f"{path}  {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
