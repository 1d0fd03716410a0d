"""Each loader on a small fixture in its benchmark's released schema."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from fixtures import (
    AC_H,
    AC_W,
    AITW_H,
    AITW_W,
    write_aitw,
    write_androidcontrol,
    write_gui_odyssey,
    write_mind2web,
)

from stepgym.episodes.offline import load


def test_aitw_episodes_are_runs_of_step_records_with_raw_pixels(tmp_path):
    eps = list(load("aitw", write_aitw(tmp_path)))
    assert [(e.episode.episode_id, e.group, len(e.episode.steps)) for e in eps] == [
        ("101", "general", 3), ("102", "general", 2), ("201", "install", 2)]
    first = eps[0]
    assert first.episode.instruction == "search for coffee" and first.episode.env_id == "aitw/general"
    s0, s1 = first.episode.steps[:2]
    assert s0.parsed_action == {"action_type": 4, "touch_yx": pytest.approx([0.5, 0.3]), "lift_yx": pytest.approx([0.5, 0.3]),
                                "typed_text": ""}
    assert s1.parsed_action["typed_text"] == "coffee maker" and s1.step_id == "1"
    assert s0.screen == [AITW_W, AITW_H]
    el = s0.elements[0]
    assert el["yxhw"] == pytest.approx([0.45, 0.25, 0.1, 0.1]) and el["bbox"] == pytest.approx([5, 18, 7, 22])
    img = first.image(1)
    assert img.shape == (AITW_H, AITW_W, 3) and tuple(img[0, 0]) == (30, 200, 30)
    assert [e.episode.episode_id for e in load("aitw", tmp_path, split="test", split_file=tmp_path / "splits/standard.json")] == ["101", "201"]
    assert [e.group for e in load("aitw", tmp_path, subsets="install")] == ["install"]
    with pytest.raises(ValueError, match="split_file"):
        list(load("aitw", tmp_path, split="test"))
    with pytest.raises(FileNotFoundError, match="no AITW TFRecord files"):
        list(load("aitw", tmp_path / "general", subsets="nope"))


def test_androidcontrol_one_example_per_episode_with_a11y_boxes(tmp_path):
    root = write_androidcontrol(tmp_path / "ac")
    eps = list(load("androidcontrol", root))
    assert [e.episode.episode_id for e in eps] == ["7", "8"]
    ep = eps[0]
    assert [s.parsed_action["action_type"] for s in ep.episode.steps] == ["click", "input_text", "navigate_back"]
    assert [s.instruction for s in ep.episode.steps] == ["tap send", "type the greeting", "go back"]
    assert ep.episode.steps[0].screen == [AC_W, AC_H]
    boxes = [e["bbox"] for e in ep.episode.steps[0].elements]
    assert boxes == [[0, 0, AC_W, AC_H], [40, 100, 80, 140], [0, 200, 108, 240]]
    assert ep.episode.steps[0].elements[1]["text"] == "Send" and ep.episode.steps[0].elements[1]["kind"] == "Button"
    assert tuple(ep.image(2)[5, 5]) == (20, 100, 200)  # screenshot i is the screen action i was taken on
    assert ep.episode.meta["subsplits"] == ["IDD", "app_unseen"]
    assert [e.episode.episode_id for e in load("androidcontrol", root, split="test")] == ["7"]
    assert [e.episode.episode_id for e in load("androidcontrol", root, split="app_unseen")] == ["7"]
    (tmp_path / "idx.txt").write_text("episode_7_screenshot_1\nepisode_8_screenshot_0\n")
    kept = list(load("androidcontrol", root, step_list=tmp_path / "idx.txt"))
    assert [(e.episode.episode_id, [s.index for s in e.episode.steps]) for e in kept] == [("7", [1]), ("8", [0])]
    with pytest.raises(ValueError, match="unknown AndroidControl split"):
        list(load("androidcontrol", root, split="dev"))


def test_gui_odyssey_decodes_actions_like_the_format_converter(tmp_path):
    root = write_gui_odyssey(tmp_path / "go")
    eps = {e.episode.episode_id: e for e in load("gui_odyssey", root)}
    e1, e2 = eps["e1"], eps["e2"]
    assert [s.parsed_action for s in e1.episode.steps] == [
        {"action": "CLICK", "info": [500.0, 500.0], "sam2_bbox": [450, 450, 550, 550]},
        {"action": "TYPE", "info": "hi there", "sam2_bbox": []},
        {"action": "SCROLL", "info": "UP", "sam2_bbox": []}]  # finger moved up
    assert e2.episode.steps[0].parsed_action["action"] == "PRESS_HOME" and e2.group == "Web_Shopping"
    assert e1.episode.steps[0].instruction == "tap the photo" and e1.episode.steps[0].screen == [100, 200]
    assert tuple(e1.image(2)[0, 0]) == (50, 60, 150)
    assert [e.episode.episode_id for e in load("gui_odyssey", root, split="random:train")] == ["e2"]
    assert len(list(load("gui_odyssey", root, split="random"))) == 2
    with pytest.raises(ValueError, match="unknown GUI-Odyssey split"):
        list(load("gui_odyssey", root, split="weird"))


def test_mind2web_tasks_candidates_ranks_and_boxes(tmp_path):
    root = write_mind2web(tmp_path / "m2w")
    eps = list(load("mind2web", root, split="test_task"))
    t1 = eps[0].episode
    a1, a2 = t1.steps
    assert a1.step_id == "a1" and a1.parsed_action["pos_ids"] == ["11"] and a1.parsed_action["pos_ranks"] == [0]
    assert a1.parsed_action["bbox"] == [10.0, 10.0, 50.0, 20.0]
    assert [e["id"] for e in a1.elements] == ["11", "12"] and a1.elements[1]["bbox"] == [100.0, 100.0, 150.0, 120.0]
    assert a2.parsed_action["pos_ranks"] == [60]
    assert eps[1].episode.steps[0].parsed_action["bbox"] is None  # "-1,-1,-1,-1": not visible
    assert eps[0].group == "united"


def test_mind2web_pickle_loader_refuses_code(tmp_path):
    root = write_mind2web(tmp_path / "m2w")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (root / "scores_all_data.pkl").write_bytes(pickle.dumps({"ranks": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="only plain values"):
        list(load("mind2web", root))


def test_numpy_scalar_ranks_are_accepted(tmp_path):
    root = write_mind2web(tmp_path / "m2w")
    ranks = {"t1_a1": {"11": np.int64(0), "12": np.int64(1)}, "t1_a2": {"21": np.int64(4)}, "t2_b1": {"31": np.int64(2)}}
    (root / "scores_all_data.pkl").write_bytes(pickle.dumps({"scores": {}, "ranks": ranks}))
    assert list(load("mind2web", root))[0].episode.steps[1].parsed_action["pos_ranks"] == [4]


def test_unknown_loader_options_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['bogus'\] for the aitw loader"):
        load("aitw", tmp_path, bogus=1)
