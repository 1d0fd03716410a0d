"""Save a screenshot of every Mobile-v0 app (and a menu, a dialog, dark theme) plus one contact sheet.

    python scripts/mobile_screenshots.py [OUT_DIR]   (default: mobile_screens/)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stepgym.envs.mobile import MobileEnv  # noqa: E402


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = MobileEnv(templates=["ContactsDeleteContact"], max_steps=100)
    shots: list[tuple[str, Image.Image]] = []

    def snap(name: str, *actions) -> None:
        obs = None
        for a in actions:  # a dict, or a function of nothing giving one (read once on screen)
            obs, *_ = env.step(json.dumps(a() if callable(a) else a))
        shots.append((name, Image.fromarray(obs["image"])))
        shots[-1][1].save(out / f"{name}.png")

    def key(k: str) -> int:
        return next(e["index"] for e in env._snapshot()["elements"] if e["key"] == k)

    env.reset(seed=0)
    snap("home", {"action_type": "wait"})
    for app in ("Contacts", "Messages", "Clock", "Notes", "Settings"):
        snap(app.lower(), {"action_type": "open_app", "app_name": app})
    snap("contacts_menu", {"action_type": "open_app", "app_name": "Contacts"}, {"action_type": "long_press", "index": 3})
    snap("contact_detail", {"action_type": "navigate_back"}, {"action_type": "click", "index": 3})
    snap("message_thread", {"action_type": "open_app", "app_name": "Messages"}, {"action_type": "click", "index": 1})
    snap("alarm_editor", {"action_type": "open_app", "app_name": "Clock"}, lambda: {"action_type": "click", "index": key("fab")})
    snap("settings_dialog", {"action_type": "open_app", "app_name": "Settings"}, lambda: {"action_type": "click", "index": key("switch:dark")},
         {"action_type": "scroll", "direction": "down"}, lambda: {"action_type": "click", "index": key("row:device_name")})
    env.close()
    w, h = shots[0][1].size
    sheet = Image.new("RGB", (6 * (w + 8), 2 * (h + 8)), "white")
    for i, (_, im) in enumerate(shots):
        sheet.paste(im, ((i % 6) * (w + 8), (i // 6) * (h + 8)))
    sheet.save(out / "sheet.png")
    print(f"saved {len(shots)} screenshots and sheet.png to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("mobile_screens"))
