import shutil
from pathlib import Path

import numpy as np
import pytest

import stepgym
from stepgym.envs.video import (
    load_benchmark,
    load_longvideobench,
    load_mvbench,
    load_videomme,
    write_video,
)

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ["fFjv93ACGo8.mp4", "xXq2BsnL6Ok.mp4", "3KJ3W.mp4", "ZS9XR.mp4", "video_7545.mp4",
         "86CxyhFV9MI.mp4", "qn4dU2uiFcg.mp4"]


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory) -> Path:
    """Every video the fixtures name, as a real 8 s mp4 (except Video-MME's missingVid01)."""
    root = tmp_path_factory.mktemp("bench_videos")
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, size=(4, 48, 64, 3), dtype=np.uint8), 8, axis=0)
    write_video(root / NAMES[0], frames, fps=4)
    for name in NAMES[1:]:
        shutil.copy(root / NAMES[0], root / name)
    return root


def test_videomme_nested_and_flat(video_dir):
    items = load_videomme(FIXTURES / "videomme.json", video_dir)
    assert [it.qid for it in items] == ["001-1", "001-2", "002-1"]
    first = items[0]
    assert first.options == ("Apples.", "Candles.", "Berries.", "The three kinds are of the same number.")
    assert first.answer == "C" and first.category == "Counting Problem" and first.duration_group == "short"
    assert first.video == str(video_dir / "fFjv93ACGo8.mp4")
    with pytest.raises(FileNotFoundError, match=r"1 of 2 questions point at missing videos.*missingVid01"):
        load_videomme(FIXTURES / "videomme_flat.jsonl", video_dir)
    flat = load_videomme(FIXTURES / "videomme_flat.jsonl", video_dir, missing="skip")
    assert [it.qid for it in flat] == ["001-1"] and flat[0].answer == "C"


def test_mvbench_answers_are_letters_of_candidates(video_dir):
    items = load_mvbench(FIXTURES / "mvbench", video_dir)
    assert [it.qid for it in items] == ["action_sequence-0", "action_sequence-1", "object_shuffle-0"]
    assert items[0].answer == "B" and items[0].clip == (1.5, 6.0)
    assert items[1].options == ("Ate the medicine.", "Tidied up the blanket.", "Put down the cup/glass/bottle.")
    assert items[1].answer == "B"
    assert items[2].answer == "B" and items[2].clip is None and items[2].category == "object_shuffle"
    one = load_mvbench(FIXTURES / "mvbench" / "object_shuffle.json", {"object_shuffle": video_dir})
    assert len(one) == 1
    with pytest.raises(KeyError, match="no video folder for task 'action_sequence'"):
        load_mvbench(FIXTURES / "mvbench", {"object_shuffle": video_dir})


def test_longvideobench_drops_unused_options(video_dir):
    items = load_longvideobench(FIXTURES / "longvideobench.json", video_dir)
    assert len(items[0].options) == 4 and items[0].answer == "B"
    assert len(items[1].options) == 5 and items[1].answer == "E"
    assert items[0].duration == pytest.approx(474.35) and items[0].category == "TOS"


def test_bad_records_name_the_field(tmp_path, video_dir):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"video": "3KJ3W.mp4", "question": "q", "candidates": ["x", "y"], "answer": "z"}]')
    with pytest.raises(ValueError, match="answer 'z' is not among candidates"):
        load_mvbench(bad, video_dir)
    bad.write_text('[{"id": "q1", "video_path": "qn4dU2uiFcg.mp4", "question": "q", "option0": "a", '
                   '"option1": "b", "correct_choice": 3}]')
    with pytest.raises(ValueError, match=r"correct_choice 3; expected an int in \[0, 2\)"):
        load_longvideobench(bad, video_dir)
    bad.write_text('[{"question_id": "x"}]')
    with pytest.raises(ValueError, match="lacks"):
        load_videomme(bad, video_dir)
    with pytest.raises(ValueError, match="unknown benchmark format 'egoschema'"):
        load_benchmark("egoschema", bad, video_dir)


@pytest.mark.parametrize("fmt, ann", [("videomme", "videomme.json"), ("mvbench", "mvbench"),
                                      ("longvideobench", "longvideobench.json")])
def test_videoqa_env_runs_on_benchmark_annotations(video_dir, fmt, ann):
    spec = {"format": fmt, "annotations": str(FIXTURES / ann), "video_dir": str(video_dir)}
    env = stepgym.make("stepgym/VideoQA-v0", data=spec, num_frames=4)
    for task in env.unwrapped.tasks:
        obs, info = env.reset(options={"task_id": task.task_id})
        assert obs["frames"].shape[0] == 4 and obs["video"].endswith(".mp4")
        letters = "ABCDE"[: len(task.data["options"])]
        assert all(f"{c}. " in obs["text"] for c in letters)
        clip = task.data.get("clip")
        if clip:  # MVBench clip questions only see frames of their clip
            assert all(clip[0] <= t <= clip[1] for t in info["frame_timestamps"])
        _, reward, terminated, _, info = env.step(env.unwrapped.oracle_action())
        assert reward == 1.0 and terminated and info["success"]
