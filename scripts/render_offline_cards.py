"""Write docs/offline-protocols.md from the protocol cards (a test checks it is up to date).

    python scripts/render_offline_cards.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stepgym.episodes.offline.cards import render_markdown  # noqa: E402

if __name__ == "__main__":
    out = ROOT / "docs" / "offline-protocols.md"
    out.write_text(render_markdown(), encoding="utf-8")
    print(f"wrote {out}")
