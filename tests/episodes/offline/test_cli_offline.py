"""`stepgym eval-offline` end to end: report.json's exact metric names, the printed tables, clear errors."""

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

from stepgym.cli import main

METRICS = {  # the names the issue fixes, per benchmark
    "aitw": {"action_matching", "action_matching_all_steps", "type_accuracy", "episode_success"},
    "androidcontrol": {"step_accuracy", "type_accuracy", "grounding_accuracy", "episode_success"},
    "gui_odyssey": {"ams", "sr", "type_accuracy", "text_accuracy", "category_mean"},
    "mind2web": {"element_accuracy", "op_f1", "step_success", "task_success", "macro_element_accuracy",
                 "macro_op_f1", "macro_step_success"},
}
CASES = [("aitw", None, write_aitw, aitw_predictions, None), ("androidcontrol", "osatlas", write_androidcontrol, androidcontrol_predictions, "test"),
         ("androidcontrol", "qwen", write_androidcontrol, androidcontrol_predictions, "test"),
         ("gui_odyssey", None, write_gui_odyssey, gui_odyssey_predictions, "random"),
         ("mind2web", "official", write_mind2web, mind2web_predictions, "test_task"),
         ("mind2web", "seeclick", write_mind2web, mind2web_predictions, "test_task")]


def _fractions(d):
    for v in d.values():
        if isinstance(v, dict):
            yield from _fractions(v)
        else:
            yield v


@pytest.mark.parametrize("bench,protocol,writer,preds,split", CASES)
def test_report_json_has_exactly_the_metric_names(tmp_path, capsys, bench, protocol, writer, preds, split):
    root = writer(tmp_path / "data")
    out = tmp_path / "out" / "report.json"
    argv = ["eval-offline", bench, str(root), "--predictions", str(preds(tmp_path / "p.jsonl")), "--out", str(out)]
    argv += (["--protocol", protocol] if protocol else []) + (["--split", split] if split else [])
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert {"benchmark", "protocol", "split", "steps", "metrics", "per_step"} <= set(report)
    assert report["benchmark"] == bench and report["split"] == split and report["steps"] == len(report["per_step"])
    assert set(report["metrics"]) == METRICS[bench]
    if bench == "gui_odyssey":
        assert set(report["metrics"]["category_mean"]) == {"ams", "sr"}
    assert all(v is None or 0.0 <= v <= 1.0 for v in _fractions(report["metrics"]))
    printed = capsys.readouterr().out
    assert "95% interval" in printed and "per ground-truth action type" in printed
    assert (out.parent / "report_viewer" / "index.html").is_file()


def test_stepgym_recordings_pick_their_card_and_print_json(mobile_recording, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["eval-offline", "stepgym", str(mobile_recording), "--policy", "oracle", "--out", str(out), "--json"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["metrics"] == {"step_accuracy": 1.0, "type_accuracy": 1.0, "grounding_accuracy": 1.0, "episode_success": 1.0}
    assert json.loads(out.read_text())["protocol"] == "mobile"


def test_clear_errors(tmp_path, capsys):
    root = write_aitw(tmp_path / "aitw")
    preds = str(aitw_predictions(tmp_path / "p.jsonl"))
    with pytest.raises(SystemExit, match="does not exist"):
        main(["eval-offline", "aitw", str(tmp_path / "nope"), "--predictions", preds])
    with pytest.raises(SystemExit, match=r"--set tap_radius: not a parameter of card aitw-official"):
        main(["eval-offline", "aitw", str(root), "--predictions", preds, "--set", "tap_radius=3"])
    with pytest.raises(SystemExit, match="split_file"):
        main(["eval-offline", "aitw", str(root), "--predictions", preds, "--split", "test"])
    with pytest.raises(SystemExit, match="bad predictions file: .*not JSON"):
        (tmp_path / "bad.jsonl").write_text("{oops\n")
        main(["eval-offline", "aitw", str(root), "--predictions", str(tmp_path / "bad.jsonl")])
    with pytest.raises(SystemExit):
        main(["eval-offline", "aitw", str(root), "--predictions", preds, "--policy", "oracle"])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="no episodes to score"):
        main(["eval-offline", "aitw", str(root), "--predictions", preds, "--split", "validation",
              "--set", f"split_file={root / 'splits' / 'standard.json'}"])


def test_thresholds_are_settable_from_the_command_line(tmp_path, capsys):
    root = write_aitw(tmp_path / "aitw")
    preds = str(aitw_predictions(tmp_path / "p.jsonl"))
    out = tmp_path / "strict.json"
    assert main(["eval-offline", "aitw", str(root), "--predictions", preds, "--out", str(out),
                 "--set", "tap_distance_threshold=0.01", "--set", "annotation_height_augment_fraction=0"]) == 0
    report = json.loads(out.read_text())
    assert report["params"]["tap_distance_threshold"] == 0.01
    # 101/0's tap at (0.52, 0.31) is 0.022 away from the gt but still in the original box
    assert report["per_step"][0]["correct"] is True
