"""The viewers in a real Chromium: marks sit where the actions were; filters and side-by-side runs work."""

from __future__ import annotations

import io

import pytest
from fixtures import aitw_predictions, androidcontrol_predictions, write_aitw, write_androidcontrol
from PIL import Image

from stepgym.cli import main
from stepgym.episodes.viewer import ACTION_COLOUR, GT_COLOUR, RIGHT_COLOUR, WRONG_COLOUR

playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def page(mobile_recording):
    """A page in the Chromium the GUI envs launch (the headless shell, with their flags).

    It asks for the recording first: Playwright's sync driver is one per thread, so the envs
    that record must be done before this driver starts.
    """
    from stepgym.envs.browser.launch import LAUNCH_FLAGS, find_chromium

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(p), args=list(LAUNCH_FLAGS))
        yield browser.new_page(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
        browser.close()


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def colour_at(page, shot, x: float, y: float, screen: tuple[int, int]) -> tuple[int, int, int]:
    """The rendered pixel at screen point (x, y) of a screenshot element."""
    shot.scroll_into_view_if_needed()
    box = shot.locator("img").bounding_box()
    px, py = box["x"] + x / screen[0] * box["width"], box["y"] + y / screen[1] * box["height"]
    png = page.screenshot(clip={"x": px - 1, "y": py - 1, "width": 3, "height": 3})
    return Image.open(io.BytesIO(png)).convert("RGB").getpixel((1, 1))


def close(a, b, tol=40):
    return all(abs(u - v) <= tol for u, v in zip(a, b))


def _row(page, episode: str, step: int):
    ep = page.locator(".ep", has=page.locator("summary b", has_text=episode))
    return ep.locator("tr.st").nth(step)


def test_offline_viewer_marks_truth_and_predictions_on_the_screenshot(page, tmp_path, capsys):
    root = write_androidcontrol(tmp_path / "ac")
    preds = androidcontrol_predictions(tmp_path / "p.jsonl")
    out = tmp_path / "run" / "report.json"
    assert main(["eval-offline", "androidcontrol", str(root), "--split", "test", "--predictions", str(preds),
                 "--out", str(out)]) == 0
    page.goto((tmp_path / "run" / "report_viewer" / "index.html").as_uri())
    shot = _row(page, "7", 0).locator(".shot").first
    # truth at (54, 120), the right prediction at (60, 126) on a 108 x 240 screen
    assert close(colour_at(page, shot, 54, 120, (108, 240)), _rgb(GT_COLOUR))
    assert close(colour_at(page, shot, 60, 126, (108, 240)), _rgb(RIGHT_COLOUR))
    # away from both marks the screenshot shows through (the fixture's screen 0 is (0, 100, 200))
    assert close(colour_at(page, shot, 10, 200, (108, 240)), (0, 100, 200), tol=10)
    wrong = _row(page, "7", 2)
    assert "wrong" in wrong.inner_text() and "navigate_home" in wrong.inner_text()


def test_wrong_taps_are_red_swipes_are_arrows_and_filters_narrow_the_page(page, tmp_path, capsys):
    root = write_aitw(tmp_path / "aitw")
    base = tmp_path / "pred" / "report.json"
    assert main(["eval-offline", "aitw", str(root), "--predictions", str(aitw_predictions(tmp_path / "p.jsonl")),
                 "--out", str(base)]) == 0
    out = tmp_path / "random" / "report.json"
    assert main(["eval-offline", "aitw", str(root), "--policy", "random", "--out", str(out), "--compare", str(base)]) == 0
    page.goto((tmp_path / "random" / "report_viewer" / "index.html").as_uri())
    # two runs side by side: every step row holds one screenshot per run
    assert page.locator("tr.st").first.locator(".shot").count() == 2
    # the predictions-file run (second column) tapped (y, x) = (0.8, 0.2) for a gt tap at (0.2, 0.8): red there
    shot = _row(page, "201", 0).locator(".shot").nth(1)
    assert close(colour_at(page, shot, 0.2 * 20, 0.8 * 40, (20, 40)), _rgb(WRONG_COLOUR))
    assert close(colour_at(page, shot, 0.8 * 20, 0.2 * 40, (20, 40)), _rgb(GT_COLOUR))
    # the gt swipe of 101/2 is an arrow from (x, y) = (10, 32) to (10, 8)
    line = _row(page, "101", 2).locator(".shot").nth(1).locator("line").first
    assert [float(line.get_attribute(a)) for a in ("x1", "y1", "x2", "y2")] == pytest.approx([10, 32, 10, 8])
    # filters: action type, task text, success, wrong steps only
    count = lambda: page.locator(".ep:not(.hidden)").count()  # noqa: E731
    assert count() == 3
    page.select_option("#f-type", "SWIPE")
    assert count() == 1 and page.locator("tr.st:not(.hidden)").count() == 1
    page.select_option("#f-type", "")
    page.fill("#f-task", "install")
    assert count() == 1 and "201" in page.locator(".ep:not(.hidden) summary").inner_text()
    page.fill("#f-task", "")
    page.select_option("#f-success", "disagree")  # random fails 101 where the predictions file gets it right
    assert "101" in page.locator(".ep:not(.hidden) summary").all_inner_texts()[0]
    page.select_option("#f-success", "")
    page.check("#f-wrong")
    assert page.locator("tr.st:not(.hidden)").count() == sum(
        1 for r in __import__("json").loads(out.read_text())["per_step"] if not r["correct"])


def test_stepgym_view_draws_recorded_clicks_where_they_touched(page, mobile_recording, tmp_path, capsys):
    from stepgym.episodes import read_episodes
    from stepgym.episodes.offline.loaders.recordings import parse_elements

    assert main(["view", str(mobile_recording), "--out", str(tmp_path / "index.html")]) == 0
    html = (tmp_path / "index.html").read_text()
    html = html.replace('src="media/', f'src="{mobile_recording.as_uri()}/media/')  # the page sits elsewhere here
    (tmp_path / "index.html").write_text(html)
    page.goto((tmp_path / "index.html").as_uri())
    ep = next(e for e in read_episodes(mobile_recording) if any(s.parsed_action["action_type"] == "click" for s in e.steps))
    k, step = next((i, s) for i, s in enumerate(ep.steps) if s.parsed_action["action_type"] == "click")
    left, top, right, bottom = next(e["bbox"] for e in parse_elements(step.observation, "mobile") if e["index"] == step.parsed_action["index"])
    box = page.locator(".ep", has=page.locator("summary b", has_text=ep.task_id)).first
    box.locator("summary").click()
    shot = box.locator("tr.st").nth(k).locator(".shot")
    assert close(colour_at(page, shot, (left + right) / 2, (top + bottom) / 2, (360, 640)), _rgb(ACTION_COLOUR))


def test_stepgym_view_compare_puts_the_other_runs_episode_beside_each(mobile_recording, tmp_path, capsys):
    import shutil

    from stepgym.episodes import EpisodeWriter, read_episodes

    other = tmp_path / "other"
    eps = list(read_episodes(mobile_recording))
    eps[0].success = False  # the other run failed this task
    with EpisodeWriter(other) as w:
        for e in eps[:2]:
            w.write(e)
    shutil.copytree(mobile_recording / "media", other / "media", dirs_exist_ok=True)
    assert main(["view", str(mobile_recording), "--out", str(tmp_path / "cmp.html"), "--compare", str(other)]) == 0
    html = (tmp_path / "cmp.html").read_text()
    assert "<th>other run</th>" in html and "not in the other run" in html
    assert html.count('data-disagree="1"') == 1 and 'value="disagree"' in html
