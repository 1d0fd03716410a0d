"""The predictions scorer against metrics computed by hand on each fixture."""

from __future__ import annotations

import json

import pytest
from fixtures import (
    aitw_predictions,
    androidcontrol_predictions,
    gui_odyssey_predictions,
    mind2web_predictions,
    write_aitw,
    write_androidcontrol,
    write_gui_odyssey,
    write_mind2web,
)

from stepgym.episodes.offline import get_card, load, score_predictions_file
from stepgym.episodes.offline.metrics import compute
from stepgym.episodes.offline.protocols.base import MetricSpec, PredictionError


def _score(bench, protocol, root, preds, split=None, **params):
    card = get_card(bench, protocol)
    return score_predictions_file(card, card.make_params(params), load(bench, root, split=split), preds, split=split)


def test_aitw_metrics_by_hand(tmp_path):
    r = _score("aitw", None, write_aitw(tmp_path / "d"), aitw_predictions(tmp_path / "p.jsonl"))
    m = r["metrics"]
    # general: 101 all three right, 102 one of two -> 4/5; install: 201 none of two -> 0
    assert m["action_matching"] == pytest.approx((4 / 5 + 0) / 2)
    assert m["action_matching_all_steps"] == pytest.approx(4 / 7)
    assert m["type_accuracy"] == pytest.approx(5 / 7)  # 102/0 (home for back) and 201/1 (missing) wrong
    assert m["episode_success"] == pytest.approx(1 / 3)
    assert r["steps"] == 7 and r["episodes"] == 3 and r["missing_predictions"] == 1
    assert [row["correct"] for row in r["per_step"]] == [True, True, True, False, True, False, False]
    for name, (lo, hi) in r["intervals"].items():
        assert 0 <= lo <= m[name] <= hi <= 1, name
    table = {t["gt_type"]: t for t in r["per_action_type"]}
    assert table["TAP"]["steps"] == 2 and table["TAP"]["accuracy"] == 0.5


def test_androidcontrol_both_protocols_by_hand(tmp_path):
    root = write_androidcontrol(tmp_path / "d")
    preds = androidcontrol_predictions(tmp_path / "p.jsonl")
    osatlas = _score("androidcontrol", "osatlas", root, preds, split="test")["metrics"]
    # click 61 grid units away: right; 'hello there' vs 'hello world': '[hello' both: right; home for back: wrong type
    assert osatlas == pytest.approx({"step_accuracy": 2 / 3, "type_accuracy": 2 / 3, "grounding_accuracy": 1.0,
                                     "episode_success": 0.0})
    qwen = _score("androidcontrol", "qwen", root, preds, split="test")["metrics"]
    # text by containment: wrong; back and home are one type (system_button): type-right, step wrong
    assert qwen == pytest.approx({"step_accuracy": 1 / 3, "type_accuracy": 1.0, "grounding_accuracy": 1.0,
                                  "episode_success": 0.0})
    strict = _score("androidcontrol", "osatlas", root, preds, split="test", click_distance=50)["metrics"]
    assert strict["step_accuracy"] == pytest.approx(1 / 3) and strict["grounding_accuracy"] == 0.0


def test_gui_odyssey_metrics_and_category_mean_by_hand(tmp_path):
    r = _score("gui_odyssey", None, write_gui_odyssey(tmp_path / "d"), gui_odyssey_predictions(tmp_path / "p.jsonl"),
               split="random")
    m = r["metrics"]
    assert m["ams"] == pytest.approx(4 / 5) and m["sr"] == pytest.approx(1 / 2)
    assert m["type_accuracy"] == 1.0 and m["text_accuracy"] == 1.0
    # Social_Sharing: 2/3 steps, not all right; Web_Shopping: 2/2, all right
    assert m["category_mean"] == pytest.approx({"ams": (2 / 3 + 1) / 2, "sr": 0.5})
    assert r["intervals"]["category_mean"]["ams"][0] <= m["category_mean"]["ams"]


def test_mind2web_official_and_seeclick_by_hand(tmp_path):
    root = write_mind2web(tmp_path / "d")
    preds = mind2web_predictions(tmp_path / "p.jsonl")
    off = _score("mind2web", "official", root, preds, split="test_task")
    # a1 right; a2's positive is ranked 60th (not in the top 50): all 0; b1 element right, F1('SELECT economy',
    # 'SELECT Economy') = 0.5
    assert off["metrics"] == pytest.approx({
        "element_accuracy": 2 / 3, "op_f1": 0.5, "step_success": 1 / 3, "task_success": 0.0,
        "macro_element_accuracy": (0.5 + 1) / 2, "macro_op_f1": 0.5, "macro_step_success": (0.5 + 0) / 2})
    top100 = _score("mind2web", "official", root, preds, split="test_task", top_k=100)["metrics"]
    assert top100["element_accuracy"] == 1.0 and top100["op_f1"] == pytest.approx((1 + 1 / 3 + 0.5) / 3)
    sc = _score("mind2web", "seeclick", root, preds, split="test_task")
    # b1's target is hidden (no box): skipped; both t1 steps right with lower-cased values
    assert sc["steps"] == 2
    assert sc["metrics"] == pytest.approx({k: 1.0 for k in off["metrics"]})


def test_prediction_file_errors_name_the_line(tmp_path):
    root = write_aitw(tmp_path / "d")
    card = get_card("aitw")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"episode_id": "101", "step_id": 0, "action_type": 4}\n{not json}\n')
    with pytest.raises(PredictionError, match=r"bad.jsonl:2: not JSON"):
        score_predictions_file(card, card.make_params(), load("aitw", root), bad)
    bad.write_text('{"episode_id": "101", "step_id": 0, "action_type": "TAP"}\n')
    with pytest.raises(PredictionError, match=r"bad.jsonl:1: action_type must be an ActionType int"):
        score_predictions_file(card, card.make_params(), load("aitw", root), bad)
    bad.write_text('{"episode_id": "101", "step_id": 0, "action_type": 5}\n' * 2)
    with pytest.raises(PredictionError, match=r"a second prediction .* \(first on line 1\)"):
        score_predictions_file(card, card.make_params(), load("aitw", root), bad)
    bad.write_text('{"episode": "101", "step_id": 0, "action_type": 5}\n')
    with pytest.raises(PredictionError, match=r"missing key field\(s\) \['episode_id'\]"):
        score_predictions_file(card, card.make_params(), load("aitw", root), bad)
    bad.write_text(json.dumps({"episode_id": "999", "step_id": 0, "action_type": 5}) + "\n")
    with pytest.raises(PredictionError, match="none of the 1 predictions"):
        score_predictions_file(card, card.make_params(), load("aitw", root), bad)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['tap_threshold'\]"):
        card.make_params({"tap_threshold": 0.1})


def test_bootstrap_interval_covers_the_value_and_degenerate_runs_use_wilson():
    rows = [{"episode_id": f"e{i // 2}", "gt_type": "click", "group": "g", "correct": i % 3 == 0, "type_match": True}
            for i in range(40)]
    values, intervals = compute([MetricSpec("acc", "")], rows)
    lo, hi = intervals["acc"]
    assert lo < values["acc"] < hi and hi - lo < 0.5
    perfect = [dict(r, correct=True) for r in rows]
    values, intervals = compute([MetricSpec("acc", "")], perfect)
    assert values["acc"] == 1.0 and 0.8 < intervals["acc"][0] < 1.0 == intervals["acc"][1]  # Wilson over 20 episodes
