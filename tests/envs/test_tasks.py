from __future__ import annotations

import json

import pytest

from stepgym.envs import Task, TaskSuite


def _suite():
    return TaskSuite([Task(f"t{i}", f"do {i}", split="train" if i < 8 else "test", data={"x": i})
                      for i in range(10)], name="demo")


def test_splits_and_get():
    s = _suite()
    assert s.splits() == ["test", "train"]
    assert len(s.split("train")) == 8 and len(s.split("all")) == 10
    assert s.get("t3").data == {"x": 3}
    with pytest.raises(KeyError, match="Did you mean"):
        s.get("t33")
    with pytest.raises(ValueError, match="split 'val' is empty"):
        s.split("val")


def test_sampling_is_seeded():
    s = _suite()
    assert [t.task_id for t in s.sample(3, 5)] == [t.task_id for t in s.sample(3, 5)]
    assert len({t.task_id for t in s.sample(0, 10)}) == 10
    with pytest.raises(ValueError, match="cannot sample 11"):
        s.sample(0, 11)


@pytest.mark.parametrize("name", ["tasks.jsonl", "tasks.jsonl.gz"])
def test_jsonl_round_trip(tmp_path, name):
    s = _suite()
    s.save(tmp_path / name)
    loaded = TaskSuite.load(tmp_path / name)
    assert list(loaded) == list(s)


def test_json_list_and_errors(tmp_path):
    p = tmp_path / "t.json"
    p.write_text(json.dumps([{"task_id": "a", "instruction": "go", "level": 2}]))
    t = TaskSuite.load(p).get("a")
    assert t.data == {"level": 2} and t.split == "train"
    p.write_text(json.dumps([{"instruction": "go"}]))
    with pytest.raises(ValueError, match="task_id"):
        TaskSuite.load(p)
    with pytest.raises(ValueError, match="duplicate task_id"):
        TaskSuite([Task("a", "x"), Task("a", "y")])
    with pytest.raises(FileNotFoundError):
        TaskSuite.load(tmp_path / "missing.jsonl")


def test_resolve_takes_a_suite_a_path_or_a_builtin_name(tmp_path):
    s = _suite()
    asked: list[str] = []

    def builtin(name: str) -> TaskSuite:
        asked.append(name)
        return s.split("test")

    assert TaskSuite.resolve(s, builtin) is s
    s.save(tmp_path / "mine.jsonl.gz")
    assert TaskSuite.resolve(tmp_path / "mine.jsonl.gz", builtin).ids == s.ids
    assert TaskSuite.resolve("hard", builtin).ids == ["t8", "t9"]
    assert asked == ["hard"]  # only the bare name went to the env's built-in loader
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        TaskSuite.resolve(tmp_path / "missing.jsonl", builtin)
