"""Each offline protocol's step rule on hand-built cases at its thresholds."""

from __future__ import annotations

import pytest

from stepgym.rewards.offline import aitw
from stepgym.rewards.offline import androidcontrol as ac
from stepgym.rewards.offline import gui_odyssey as go
from stepgym.rewards.offline import mind2web as m2w
from stepgym.rewards.offline import stepgym_actions as sg
from stepgym.rewards.offline.text import anls, levenshtein, token_set_f1

EPS = 1e-6


# -- AITW -------------------------------------------------------------------------------------
def tap(y, x):
    return {"action_type": 4, "touch_yx": [y, x], "lift_yx": [y, x]}


def swipe(y0, x0, y1, x1):
    return {"action_type": 4, "touch_yx": [y0, x0], "lift_yx": [y1, x1]}


FAR_BOX = [[0.9, 0.9, 0.01, 0.01]]  # an annotation nowhere near the taps below


def test_aitw_tap_distance_threshold_inside_and_outside():
    gt = dict(tap(0.5, 0.5), annotation_positions=FAR_BOX)
    assert aitw.match(tap(0.5, 0.5 + 0.14 - EPS), gt).correct
    assert not aitw.match(tap(0.5, 0.5 + 0.14 + EPS), gt).correct
    # the distance is Euclidean in (y, x): 0.1 and 0.1 is 0.1414 > 0.14
    assert not aitw.match(tap(0.6, 0.6), gt).correct
    # a looser threshold is a parameter
    assert aitw.match(tap(0.6, 0.6), gt, aitw.AITWParams(tap_distance_threshold=0.15)).correct


def test_aitw_enlarged_box_is_2_4x_and_clipped_at_the_near_edges():
    box = [0.2, 0.2, 0.1, 0.1]  # y, x, h, w -> enlarged: top 0.13, left 0.13, h = w = 0.24
    gt = dict(tap(0.21, 0.21), annotation_positions=[box])
    params = aitw.AITWParams(tap_distance_threshold=0.0)  # only the box can make them match
    assert aitw.match(tap(0.13 + EPS, 0.369 - EPS), gt, params).correct  # inside the enlarged box
    assert not aitw.match(tap(0.13 - 1e-3, 0.3), gt, params).correct  # above it
    assert not aitw.match(tap(0.3, 0.37 + 1e-3), gt, params).correct  # right of it (0.13 + 0.24)
    # both taps must be in the *same* box; one in, one out does not count
    gt_out = dict(tap(0.6, 0.6), annotation_positions=[box])
    assert not aitw.match(tap(0.21, 0.21), gt_out, params).correct
    # clipping: a box at the top edge starts at 0, its height stays h + 1.4h (not re-clipped)
    assert aitw.enlarge([[0.01, 0.5, 0.1, 0.1]], aitw.AITWParams())[0] == pytest.approx([0.0, 0.43, 0.24, 0.24])


def test_aitw_tap_vs_swipe_axis_only_and_other_types():
    gt_tap = dict(tap(0.5, 0.5), annotation_positions=FAR_BOX)
    assert not aitw.match(swipe(0.5, 0.5, 0.5 + 0.04 + EPS, 0.5), gt_tap).correct  # just a swipe: no match
    assert aitw.match(swipe(0.5, 0.5, 0.5 + 0.04 - EPS, 0.5), gt_tap).correct  # just a tap
    gt_up = dict(swipe(0.8, 0.5, 0.2, 0.5), annotation_positions=FAR_BOX)
    assert aitw.match(swipe(0.2, 0.5, 0.8, 0.5), gt_up).correct  # opposite direction, same axis
    assert not aitw.match(swipe(0.5, 0.2, 0.5, 0.8), gt_up).correct  # horizontal
    gt_type = {"action_type": 3, "touch_yx": [-1, -1], "lift_yx": [-1, -1], "typed_text": "Coffee maker",
               "annotation_positions": FAR_BOX}
    m = aitw.match({"action_type": 3, "typed_text": "tea"}, gt_type)
    assert m.correct and m.type_match and m.extras["text_match"] is False  # TYPE text is not compared
    assert aitw.match({"action_type": 3, "typed_text": "coffee"}, gt_type).extras["text_match"]
    m = aitw.match({"action_type": 5}, gt_tap)
    assert not m.correct and not m.type_match and m.pred_type == "PRESS_BACK"
    assert aitw.match(tap(0.5, 0.5), gt_tap).type_match  # a tap and a swipe are both type 4


def test_aitw_screen_without_boxes_follows_the_released_failure_or_the_distance():
    gt = dict(tap(0.5, 0.5), annotation_positions=[])
    m = aitw.match(tap(0.5, 0.5), gt)
    assert not m.correct and not m.type_match  # SeeClick's try-block skips the type count as well
    assert aitw.match(tap(0.5, 0.5), gt, aitw.AITWParams(no_annotations="distance")).correct
    assert not aitw.match(None, gt).correct
    assert aitw.match({"action_type": 4, "touch_yx": ["x", 1]}, gt).note.startswith("unusable")
    with pytest.raises(ValueError, match="no_annotations"):
        aitw.AITWParams(no_annotations="ignore")


# -- AndroidControl: OS-Atlas -----------------------------------------------------------------
SCREEN = (1080, 2400)


def click(x, y, kind="click"):
    return {"action_type": kind, "x": x, "y": y}


def test_osatlas_click_within_140_on_the_1000_grid():
    gt = click(540, 1200)  # (500, 500) on the grid
    assert ac.match_osatlas(click(540 + 1.08 * 140, 1200), gt, SCREEN).correct  # exactly 140 on the grid
    assert not ac.match_osatlas(click(540 + 1.08 * 141, 1200), gt, SCREEN).correct
    m = ac.match_osatlas(click(540, 1200, "long_press"), gt, SCREEN)
    assert not m.type_match and m.gt_type == "CLICK" and m.pred_type == "LONG_PRESS"
    assert ac.match_osatlas(click(540, 1200), gt, SCREEN, ac.OSAtlasParams(click_distance=0)).correct


def test_osatlas_text_compares_the_first_word_with_its_bracket():
    gt = {"action_type": "input_text", "text": "Shanghai shopping mall"}
    assert ac.match_osatlas({"action_type": "type", "text": "Shanghai mall"}, gt, SCREEN).correct  # '[Shanghai' both
    single = {"action_type": "input_text", "text": "Shanghai"}  # '[Shanghai]' vs '[Shanghai'
    assert not ac.match_osatlas(single, gt, SCREEN).correct
    every_word = ac.OSAtlasParams(text_tokens="all")
    # 'shanghai' vs 'shanghai shopping mall': F1 = 2*(1*1/3)/(1+1/3) = 0.5, which is not above 0.5
    assert ac.match_osatlas(single, gt, SCREEN, every_word).extras["text_f1"] == pytest.approx(0.5)
    assert not ac.match_osatlas(single, gt, SCREEN, every_word).correct
    assert ac.match_osatlas({"action_type": "input_text", "text": "shanghai shopping"}, gt, SCREEN, every_word).correct


def test_osatlas_text_threshold_and_exact_strings():
    gt = {"action_type": "open_app", "app_name": "Google Chrome"}
    assert ac.match_osatlas({"action_type": "open_app", "app_name": "google maps"}, gt, SCREEN).correct  # '[google' both
    assert not ac.match_osatlas({"action_type": "open_app", "app_name": "Chrome"}, gt, SCREEN).correct
    scroll = {"action_type": "scroll", "direction": "down"}
    assert ac.match_osatlas(dict(scroll), scroll, SCREEN).correct
    assert not ac.match_osatlas({"action_type": "scroll", "direction": "up"}, scroll, SCREEN).correct
    assert not ac.match_osatlas({"action_type": "navigate_back"}, {"action_type": "navigate_home"}, SCREEN).type_match
    assert not ac.match_osatlas(None, scroll, SCREEN).correct


# -- AndroidControl: Qwen ---------------------------------------------------------------------
ELEMENTS = [{"bbox": [0, 0, 1080, 2400]}, {"bbox": [100, 100, 300, 200]}, {"bbox": [90, 90, 1000, 1000]}]


def test_qwen_candidate_box_enlarged_1_2_about_its_centre():
    gt = click(200, 150)  # inside [100,100,300,200] (the smallest containing node)
    params = ac.QwenParams(point_distance_fraction=0.0)
    assert ac.candidate_boxes(gt, ELEMENTS, params) == [[100.0, 100.0, 300.0, 200.0]]
    # enlarged: x in [80, 320], y in [90, 210]
    assert ac.match_qwen(click(320, 150), gt, SCREEN, ELEMENTS, params).correct
    assert not ac.match_qwen(click(320.5, 150), gt, SCREEN, ELEMENTS, params).correct
    assert ac.match_qwen(click(200, 90), gt, SCREEN, ELEMENTS, params).correct
    assert not ac.match_qwen(click(200, 89.5), gt, SCREEN, ELEMENTS, params).correct


def test_qwen_distance_is_a_fraction_of_the_longer_side_and_no_box_falls_back_to_it():
    gt = click(540, 1200)
    limit = 0.04 * 2400  # 96 px
    assert ac.match_qwen(click(540 + limit - 0.01, 1200), gt, SCREEN, []).correct
    assert not ac.match_qwen(click(540 + limit + 0.01, 1200), gt, SCREEN, []).correct
    gt_edge = click(290, 150)  # in [100,100,300,200]; a click at (110, 150) is 180 px away
    assert ac.match_qwen(click(110, 150), gt_edge, SCREEN, ELEMENTS).correct
    assert not ac.match_qwen(click(110, 150), gt_edge, SCREEN, ELEMENTS, ac.QwenParams(candidate_boxes="none")).correct
    assert len(ac.candidate_boxes(gt_edge, ELEMENTS, ac.QwenParams(candidate_boxes="all"))) == 3


def test_qwen_types_back_home_text_and_open_app():
    back, home = {"action_type": "navigate_back"}, {"action_type": "navigate_home"}
    m = ac.match_qwen(home, back, SCREEN)
    assert m.type_match and not m.correct  # one type, different buttons
    assert ac.match_qwen(dict(back), back, SCREEN).correct
    gt = {"action_type": "input_text", "text": "Hello World"}
    assert ac.match_qwen({"action_type": "type", "text": " hello"}, gt, SCREEN).correct  # containment, case-folded
    assert ac.match_qwen({"action_type": "input_text", "text": ""}, gt, SCREEN).correct  # '' is contained: quirk
    assert not ac.match_qwen({"action_type": "input_text", "text": "help"}, gt, SCREEN).correct
    app = {"action_type": "open_app", "app_name": "Chrome"}
    icons = [{"bbox": [0, 0, 100, 100], "text": "Chrome"}]
    m = ac.match_qwen(click(50, 50), app, SCREEN, icons)
    assert m.type_match and m.correct  # a click on the app's icon opens it
    assert not ac.match_qwen(click(50, 50), app, SCREEN, []).type_match
    assert not ac.match_qwen(click(50, 50), app, SCREEN, icons, ac.QwenParams(open_app_accepts_click=False)).correct
    assert ac.match_qwen({"action_type": "wait"}, {"action_type": "wait"}, SCREEN).correct
    assert not ac.match_qwen({"action_type": "scroll", "direction": "up"}, {"action_type": "scroll", "direction": "down"}, SCREEN).correct


# -- GUI-Odyssey ------------------------------------------------------------------------------
def test_odyssey_click_in_sam2_box_or_within_0_14():
    gt = {"action": "CLICK", "info": [500, 500], "sam2_bbox": [400, 400, 450, 450]}
    assert go.match({"action": "CLICK", "info": [500 + 140 - 0.01, 500]}, gt).correct
    assert not go.match({"action": "CLICK", "info": [500 + 140 + 0.01, 500]}, gt).correct
    far_in_box = {"action": "CLICK", "info": [900, 900]}
    gt_box = {"action": "CLICK", "info": [100, 100], "sam2_bbox": [850, 850, 900, 900]}
    assert go.match(far_in_box, gt_box).correct  # the box edge is inclusive
    assert not go.match(far_in_box, gt_box, go.OdysseyParams(use_sam2_bbox=False)).correct
    assert not go.match({"action": "CLICK", "info": [900.5, 900]}, gt_box).correct
    assert not go.match({"action": "LONG_PRESS", "info": [100, 100]}, gt_box).type_match


def test_odyssey_text_containment_or_anls_and_typing_aliases():
    gt = {"action": "TEXT", "info": "hello world"}  # the data spells typing TEXT
    assert go.match({"action": "TYPE", "info": "world"}, gt).correct
    assert go.match({"action": "TYPE", "info": ""}, gt).correct  # '' is contained in anything: quirk
    assert go.match({"action": "TYPE", "info": "hello wrld"}, gt).correct  # ANLS 0.91
    assert go.match({"action": "TYPE", "info": "Hello World"}, gt).correct  # not contained (case), ANLS 0.82
    assert not go.match({"action": "TYPE", "info": "ABC"}, {"action": "TYPE", "info": "abc"}).correct  # case-sensitive
    assert not go.match({"action": "TYPE", "info": "goodbye"}, gt).correct
    assert go.text_matching("abcd", "abxy")  # ANLS exactly 0.5 counts
    assert not go.text_matching("abcd", "axyz")  # 0.25


def test_odyssey_scroll_case_insensitive_other_types_and_invalid_info():
    assert go.match({"action": "SCROLL", "info": "up"}, {"action": "SCROLL", "info": "UP"}).correct
    assert not go.match({"action": "SCROLL", "info": "DOWN"}, {"action": "SCROLL", "info": "UP"}).correct
    assert go.match({"action": "PRESS_BACK", "info": ""}, {"action": "PRESS_BACK", "info": ""}).correct
    m = go.match({"action": "CLICK", "info": "somewhere"}, {"action": "CLICK", "info": [1, 2], "sam2_bbox": []})
    assert not m.correct and m.type_match and m.extras["invalid"]  # 'invalid' counts type-right, as released
    m = go.match({"action": "CLICK", "info": None}, {"action": "CLICK", "info": [1, 2]},
                 go.OdysseyParams(unusable_counts_type_right=False))
    assert not m.type_match


# -- Mind2Web ---------------------------------------------------------------------------------
GT_TYPE = {"op": "TYPE", "original_op": "TYPE", "value": "New York", "pos_ids": ["12"], "pos_ranks": [3],
           "bbox": [10, 20, 100, 40]}


def test_mindact_element_top_k_f1_case_sensitive():
    pred = {"op": "TYPE", "value": "New York", "element": "12"}
    assert m2w.match_mindact(pred, GT_TYPE).correct
    assert not m2w.match_mindact(pred, GT_TYPE, m2w.MindActParams(top_k=3)).correct  # rank 3 is not < 3
    lower = m2w.match_mindact({"op": "TYPE", "value": "new york", "element": "12"}, GT_TYPE)
    assert lower.extras["element"] and lower.extras["op_f1"] == pytest.approx(1 / 3) and not lower.correct
    gt_click = {"op": "CLICK", "original_op": "CLICK", "value": "", "pos_ids": ["5"], "pos_ranks": None, "bbox": None}
    m = m2w.match_mindact({"op": "CLICK", "value": "Submit", "element": "5"}, gt_click)
    assert m.extras["op_f1"] == pytest.approx(2 / 3) and not m.correct  # a predicted CLICK keeps its value
    assert m2w.match_mindact({"op": "CLICK", "value": "", "element": "5"}, gt_click).correct
    assert not m2w.match_mindact({"op": "CLICK", "element": "6"}, gt_click).extras["element"]


def test_seeclick_point_in_box_lowercase_and_click_value_ignored():
    pred = {"op": "TYPE", "value": "new york", "point": [110, 60]}  # box x 10..110, y 20..60
    assert m2w.match_seeclick(pred, GT_TYPE).correct
    assert not m2w.match_seeclick(dict(pred, point=[110.5, 60]), GT_TYPE).correct
    gt_hover = dict(GT_TYPE, op="CLICK", original_op="HOVER", value="")
    m = m2w.match_seeclick({"op": "CLICK", "value": "anything", "point": [50, 30]}, gt_hover)
    assert m.correct and m.gt_type == "CLICK"  # HOVER is CLICK (4); the CLICK value is ignored
    m = m2w.match_seeclick({"op": "SELECT", "value": "new york", "point": [50, 30]}, GT_TYPE)
    assert not m.type_match and m.extras["op_f1"] == pytest.approx(2 / 3)
    assert m2w.match_seeclick({"op": "TYPE", "value": "x", "point": None}, GT_TYPE).note == "prediction has no usable point"


# -- stepgym's own envs -----------------------------------------------------------------------
MOBILE_ELEMENTS = [{"index": 0, "bbox": [0, 76, 360, 132]}, {"index": 1, "bbox": [10, 200, 110, 240]}]


def test_stepgym_mobile_click_in_the_gt_elements_box():
    gt = {"action_type": "click", "index": 1}
    assert sg.match_mobile({"action_type": "click", "index": 1}, gt, (360, 640), MOBILE_ELEMENTS).correct
    assert sg.match_mobile({"action_type": "click", "x": 110, "y": 240}, gt, (360, 640), MOBILE_ELEMENTS).correct
    assert not sg.match_mobile({"action_type": "click", "x": 111, "y": 240}, gt, (360, 640), MOBILE_ELEMENTS).correct
    assert not sg.match_mobile({"action_type": "click", "index": 0}, gt, (360, 640), MOBILE_ELEMENTS).correct
    assert not sg.match_mobile({"action_type": "long_press", "index": 1}, gt, (360, 640), MOBILE_ELEMENTS).type_match
    assert not sg.match_mobile({"action_type": "click", "index": 7}, gt, (360, 640), MOBILE_ELEMENTS).correct


def test_stepgym_mobile_swipe_is_the_opposite_scroll_and_text_rules():
    gt = {"action_type": "scroll", "direction": "down"}
    assert sg.match_mobile({"action_type": "swipe", "direction": "up"}, gt, (360, 640)).correct
    assert not sg.match_mobile({"action_type": "swipe", "direction": "down"}, gt, (360, 640)).correct
    gt = {"action_type": "input_text", "text": "Hello"}
    assert sg.match_mobile({"action_type": "input_text", "text": " Hello "}, gt, (360, 640)).correct
    assert not sg.match_mobile({"action_type": "input_text", "text": "hello"}, gt, (360, 640)).correct
    assert sg.match_mobile({"action_type": "input_text", "text": "hello"}, gt, (360, 640),
                           params=sg.StepgymParams(text_match="casefold")).correct
    st = {"action_type": "status", "goal_status": "complete"}
    assert not sg.match_mobile({"action_type": "status", "goal_status": "infeasible"}, st, (360, 640)).correct


def test_stepgym_desktop_near_the_point_and_nearest_the_same_element():
    centres = [{"x": 100, "y": 100}, {"x": 100, "y": 130}]
    gt = {"action_type": "CLICK", "x": 100, "y": 100, "button": "left", "num_clicks": 1}
    r = 0.04 * 1280
    assert sg.match_desktop(dict(gt, x=95, y=110), gt, (1280, 720), centres).correct
    assert not sg.match_desktop(dict(gt, x=100, y=120), gt, (1280, 720), centres).correct  # nearer the other element
    assert not sg.match_desktop(dict(gt, x=100 - r - 1, y=100), gt, (1280, 720), centres).correct
    assert not sg.match_desktop(dict(gt, num_clicks=2), gt, (1280, 720), centres).correct
    code = {"code": "...", "actions": [gt, {"action_type": "TYPING", "text": "hi"}]}
    assert sg.match_desktop(code, code, (1280, 720), centres).correct
    assert not sg.match_desktop({"actions": [gt]}, code, (1280, 720), centres).correct


def test_text_helpers():
    assert token_set_f1("a b", "b a") == 1.0 and token_set_f1("", "") == 1.0 and token_set_f1("", "", empty_both=0) == 0
    assert token_set_f1("A", "a") == 0.0 and token_set_f1("A", "a", lowercase=True) == 1.0
    assert levenshtein("kitten", "sitting") == 3 and anls("", "") == 1.0
