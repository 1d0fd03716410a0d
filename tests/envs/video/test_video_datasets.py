"""The benchmark loaders on hand-written fixtures in each release's own schema, with generated videos
laid out as the releases unpack (Video-MME `data/`, MVBench `video/<dataset>/`, LongVideoBench `videos/`)."""

import json
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
    make_video,
    write_video,
)
from stepgym.envs.video.io import write_frame_folder

FIXTURES = Path(__file__).parent / "fixtures"


def write_parquet(rows: list[dict], path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """Generated clips under the three releases' folder layouts, and the parquet files built from
    the hand-written rows (the releases ship those rows as parquet)."""
    root = tmp_path_factory.mktemp("releases")
    clip = make_video("color_change", 0, height=48, width=64, fps=4.0, duration=8.0)
    first = write_video(root / "clip.mp4", clip.frames, clip.fps)
    targets = ["videomme/data/fFjv93ACGo8.mp4", "videomme/data/xXq2BsnL6Ok.MP4",  # both cases occur
               "mvbench/video/star/Charades_v1_480/3KJ3W.mp4", "mvbench/video/star/Charades_v1_480/ZS9XR.mp4",
               "mvbench/video/perception/videos/video_7545.mp4",
               "lvb/videos/86CxyhFV9MI.mp4", "lvb/videos/qn4dU2uiFcg.mp4", "lvb/videos/Zz9Rk3pQd0E.mp4"]
    for t in targets:
        (root / t).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(first, root / t)
    # episodic_reasoning ships frames: tvqa/frames_fps3_hq/<clip>/00001.jpg ..., 3 fps
    frames = make_video("count", 1, height=48, width=64, fps=3.0, duration=8.0).frames
    for name in ("s03e11_seg02_clip_10", "friends_s02e07_seg01_clip_03"):
        write_frame_folder(root / "mvbench/video/tvqa/frames_fps3_hq" / name, frames)
    rows = [json.loads(line) for line in (FIXTURES / "videomme/hf_rows.jsonl").read_text().splitlines()]
    write_parquet(rows, root / "videomme/videomme/test-00000-of-00001.parquet")
    write_parquet(json.loads((FIXTURES / "longvideobench/hf_rows.json").read_text()),
                  root / "lvb/validation-00000-of-00001.parquet")
    return root


# -- Video-MME ------------------------------------------------------------------------------------------
def test_videomme_parquet(release):
    items = load_videomme(release / "videomme/videomme/test-00000-of-00001.parquet", release / "videomme")
    assert [it.qid for it in items] == ["001-1", "001-2", "002-1"]
    first = items[0]
    assert first.options == ("Apples.", "Candles.", "Berries.", "The three kinds are of the same number.")
    assert first.answer == "C" and first.category == "Counting Problem" and first.duration_group == "short"
    assert first.meta["domain"] == "Knowledge" and first.meta["sub_category"] == "Humanity & History"
    assert first.video == str(release / "videomme/data/fFjv93ACGo8.mp4")
    assert items[2].video == str(release / "videomme/data/xXq2BsnL6Ok.MP4")  # upper-case extension found


def test_videomme_official_template(release):
    template = FIXTURES / "videomme/output_test_template.json"
    parquet = release / "videomme/videomme/test-00000-of-00001.parquet"
    # the template names videos by video_id only: the parquet (or a map) gives their file names
    items = load_videomme(template, release / "videomme", video_ids=parquet)
    assert [it.qid for it in items] == ["001-1", "001-2", "002-1"]
    assert items[0].options[3] == "The three kinds are of the same number." and items[0].answer == "C"
    assert items[2].duration_group == "medium" and items[2].meta["domain"] == "Sports Competition"
    assert items[2].meta["sub_category"] == "Basketball" and items[2].video.endswith("xXq2BsnL6Ok.MP4")
    same = load_videomme(template, release / "videomme", video_ids={"001": "fFjv93ACGo8", "002": "xXq2BsnL6Ok"})
    assert [it.video for it in same] == [it.video for it in items]
    with pytest.raises(FileNotFoundError, match=r"3 of 3 questions point at missing videos.*pass video_ids="):
        load_videomme(template, release / "videomme")


# -- MVBench --------------------------------------------------------------------------------------------
def test_mvbench_release_layout_with_frame_folders(release):
    items = load_mvbench(FIXTURES / "mvbench/json", release / "mvbench/video")
    by_id = {it.qid: it for it in items}
    assert sorted(by_id) == ["action_sequence-0", "action_sequence-1", "episodic_reasoning-0",
                             "episodic_reasoning-1", "object_shuffle-0"]
    seq = by_id["action_sequence-0"]
    assert seq.answer == "B" and seq.clip == (1.5, 6.0) and seq.frame_fps is None
    assert seq.video.endswith("star/Charades_v1_480/3KJ3W.mp4")
    assert by_id["action_sequence-1"].options == ("Ate the medicine.", "Tidied up the blanket.",
                                                  "Put down the cup/glass/bottle.")
    ep = by_id["episodic_reasoning-0"]
    assert ep.frame_fps == 3.0 and ep.clip == (2.0, 6.0) and ep.answer == "C" and len(ep.options) == 5
    assert Path(ep.video).is_dir() and ep.video.endswith("tvqa/frames_fps3_hq/s03e11_seg02_clip_10")
    shuffle = by_id["object_shuffle-0"]
    assert shuffle.clip is None and shuffle.category == "object_shuffle" and shuffle.answer == "B"
    # a {task: folder} map instead of the release's video/ folder
    one = load_mvbench(FIXTURES / "mvbench/json/object_shuffle.json",
                       {"object_shuffle": release / "mvbench/video/perception/videos"})
    assert len(one) == 1 and Path(one[0].video).is_file()
    with pytest.raises(KeyError, match="no video folder for task 'action_sequence'"):
        load_mvbench(FIXTURES / "mvbench/json", {"object_shuffle": release})
    assert load_mvbench(FIXTURES / "mvbench/json/episodic_reasoning.json", release / "mvbench/video",
                        frame_fps=6.0)[0].frame_fps == 6.0


def test_mvbench_missing_frame_folders_are_named(tmp_path):
    (tmp_path / "tvqa/frames_fps3_hq").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="2 of 2 questions point at missing frame folders"):
        load_mvbench(FIXTURES / "mvbench/json/episodic_reasoning.json", tmp_path)
    assert load_mvbench(FIXTURES / "mvbench/json/episodic_reasoning.json", tmp_path, missing="skip") == []


# -- LongVideoBench -------------------------------------------------------------------------------------
@pytest.mark.parametrize("annotations", ["lvb_val.json", "validation-00000-of-00001.parquet"])
def test_longvideobench_val_json_and_parquet(release, annotations):
    path = FIXTURES / "longvideobench" / annotations if annotations.endswith(".json") else release / "lvb" / annotations
    items = load_longvideobench(path, release / "lvb")
    assert [it.qid for it in items] == ["86CxyhFV9MI_0", "qn4dU2uiFcg_1"]
    assert len(items[0].options) == 4 and items[0].answer == "B"  # the parquet's "N/A" option dropped
    assert items[1].options[4] == "Silver" and items[1].answer == "E"
    assert items[0].duration == pytest.approx(474.35) and items[0].category == "TOS"
    assert items[0].duration_group == "600" and items[0].meta["level"] == "L2-Relation"
    assert items[0].video == str(release / "lvb/videos/86CxyhFV9MI.mp4")


def test_longvideobench_test_file_has_no_answers(release):
    items = load_longvideobench(FIXTURES / "longvideobench/lvb_test_wo_gt.json", release / "lvb")
    assert len(items) == 1 and items[0].answer == "" and len(items[0].options) == 4


# -- errors ---------------------------------------------------------------------------------------------
def test_bad_records_name_the_field(tmp_path, release):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"video": "3KJ3W.mp4", "question": "q", "candidates": ["x", "y"], "answer": "z"}]')
    with pytest.raises(ValueError, match="answer 'z' is not among candidates"):
        load_mvbench(bad, release)
    bad.write_text('[{"id": "q1", "video_path": "qn4dU2uiFcg.mp4", "question": "q", "candidates": ["a", "b"], '
                   '"correct_choice": 3}]')
    with pytest.raises(ValueError, match=r"correct_choice 3; expected an int in \[0, 2\)"):
        load_longvideobench(bad, release / "lvb")
    bad.write_text('[{"id": "q1", "video_path": "v.mp4", "question": "q"}]')
    with pytest.raises(ValueError, match=r"lacks \['candidates or option0'\]"):
        load_longvideobench(bad, release)
    bad.write_text('[{"question_id": "x", "question": "q"}]')
    with pytest.raises(ValueError, match=r"lacks \['options or choices'\]"):
        load_videomme(bad, release)
    bad.write_text('[{"question_id": "x", "question": "q", "options": ["A. a", "B. b"], "answer": "E", "videoID": "v"}]')
    with pytest.raises(ValueError, match="has answer 'E'; expected one of AB"):
        load_videomme(bad, release)
    with pytest.raises(ValueError, match="unknown benchmark format 'egoschema'"):
        load_benchmark("egoschema", bad, release)
    with pytest.raises(ValueError, match=r"longvideobench loader takes no option\(s\) \['frame_fps'\]"):
        load_benchmark("longvideobench", bad, release, frame_fps=3.0)


# -- the env on the releases ----------------------------------------------------------------------------
def specs(release: Path) -> dict[str, dict]:
    return {
        "videomme-parquet": {"format": "videomme", "video_dir": str(release / "videomme"),
                             "annotations": str(release / "videomme/videomme/test-00000-of-00001.parquet")},
        "videomme-template": {"format": "videomme", "video_dir": str(release / "videomme"),
                              "annotations": str(FIXTURES / "videomme/output_test_template.json"),
                              "video_ids": str(release / "videomme/videomme/test-00000-of-00001.parquet")},
        "mvbench": {"format": "mvbench", "annotations": str(FIXTURES / "mvbench/json"),
                    "video_dir": str(release / "mvbench/video")},
        "longvideobench": {"format": "longvideobench", "annotations": str(FIXTURES / "longvideobench/lvb_val.json"),
                           "video_dir": str(release / "lvb")},
    }


@pytest.mark.parametrize("name", ["videomme-parquet", "videomme-template", "mvbench", "longvideobench"])
def test_videoqa_env_runs_on_each_release(release, name):
    env = stepgym.make("stepgym/VideoQA-v0", data=specs(release)[name], num_frames=4)
    for task in env.unwrapped.tasks:
        obs, info = env.reset(options={"task_id": task.task_id})
        assert obs["frames"].shape[0] == 4 and obs["frames"].dtype == np.uint8
        letters = "ABCDE"[: len(task.data["options"])]
        assert all(f"{c}. " in obs["text"] for c in letters)
        assert info["answer_rule"] == name.split("-")[0]
        clip = task.data.get("clip")
        if clip:  # clip questions only see frames of their clip
            assert all(clip[0] <= t <= clip[1] for t in info["frame_timestamps"])
        if task.data.get("frame_fps"):  # a frame folder: times from the declared 3 fps
            assert all(abs(t * 3.0 - round(t * 3.0)) < 1e-9 for t in info["frame_timestamps"])
        _, reward, terminated, _, info = env.step(env.unwrapped.oracle_action())
        assert reward == 1.0 and terminated and info["success"]


# (reply, the benchmark, the right letter, the reward its evaluator gives)
VERDICTS = [
    ("b", "mvbench", "B", 1.0),             # MVBench reads lower case
    ("b", "videomme-parquet", "C", 0.0),    # Video-MME cannot read it: unanswered
    ("Answer: C", "videomme-parquet", "C", 0.0),  # read as the A of "Answer"
    ("Answer: B", "mvbench", "B", 1.0),
    ("C", "videomme-parquet", "C", 1.0),
    ("(E)", "longvideobench", "E", 1.0),
]


@pytest.mark.parametrize("reply, name, answer, reward", VERDICTS)
def test_env_scores_replies_as_the_benchmark_does(release, reply, name, answer, reward):
    env = stepgym.make("stepgym/VideoQA-v0", data=specs(release)[name], num_frames=2)
    task = next(t for t in env.unwrapped.tasks if t.data["answer"] == answer)
    env.reset(options={"task_id": task.task_id})
    _, got, terminated, truncated, info = env.step(reply)
    assert got == reward and (terminated or truncated)


def test_longvideobench_guesses_for_unreadable_replies(release):
    env = stepgym.make("stepgym/VideoQA-v0", data=specs(release)["longvideobench"], num_frames=2)
    guesses = []
    for seed in range(24):
        env.reset(seed=seed, options={"task_id": "longvideobench-qn4dU2uiFcg_1"})
        _, reward, terminated, _, info = env.step("no idea")  # the evaluator picks a random option
        assert info["action_valid"] and terminated
        guesses.append(info["parsed_action"]["answer"])
    assert set(guesses) == set("ABCDE")
    assert reward in (0.0, 1.0)
    env.reset(seed=3, options={"task_id": "longvideobench-qn4dU2uiFcg_1"})
    again = env.step("no idea")[4]["parsed_action"]["answer"]
    assert again == guesses[3]  # seeded by the env: episodes replay
    # override: the strict rule refuses to guess
    strict = stepgym.make("stepgym/VideoQA-v0", data=specs(release)["longvideobench"], num_frames=2,
                          answer_rule="stepgym")
    strict.reset(options={"task_id": "longvideobench-qn4dU2uiFcg_1"})
    info = strict.step("no idea")[4]
    assert not info["action_valid"] and "expected an option letter (A, B, C, D, E)" in info["action_error"]
    with pytest.raises(ValueError, match="unknown answer rule 'vqa'"):
        stepgym.make("stepgym/VideoQA-v0", answer_rule="vqa")


def test_unlabelled_questions_are_recorded_not_scored(release):
    spec = {**specs(release)["longvideobench"], "annotations": str(FIXTURES / "longvideobench/lvb_test_wo_gt.json")}
    env = stepgym.make("stepgym/VideoQA-v0", data=spec, num_frames=2)
    _, info = env.reset(seed=0)
    assert info["answer_known"] is False
    _, reward, terminated, _, info = env.step("The best answer is C")
    assert terminated and reward == 0.0 and not info["success"] and info["parsed_action"] == {"answer": "C"}
    env.reset(seed=0)
    with pytest.raises(ValueError, match="has no known answer"):
        env.unwrapped.oracle_action()
