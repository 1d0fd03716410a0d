"""WebShop data: the original schema (a hand-written fixture), the goal shuffle and splits, the generator, search."""

import gzip
import json
import random
from pathlib import Path

import pytest

from stepgym.envs.webshop import WebShopEnv
from stepgym.envs.webshop.data import goal_split, load_catalog
from stepgym.envs.webshop.generate import CATEGORIES, generate
from stepgym.envs.webshop.search import SearchIndex, tokenize

FIXTURE = Path(__file__).parent / "webshop_fixture"


def test_original_schema_fixture_loads_like_webshop():
    cat = load_catalog(FIXTURE)
    # "nan", a too-long asin and a duplicate (first wins) are dropped
    assert [p["asin"] for p in cat.products] == ["B000TEA001", "B000TEA002", "B000SHOE01"]
    tea, black, shoe = cat.products
    assert shoe["Title"].startswith("Strider") and "Style" not in shoe["options"]
    # option names and values lowercased, "/" -> " | "
    assert tea["options"] == {"flavor name": ["jasmine", "mint | lemon"], "size": ["20 count", "100 count"]}
    assert shoe["options"]["color"] == ["navy blue", "black"]
    assert shoe["option_to_image"]["navy blue"] == "https://example.invalid/navy.jpg"
    # pricing: one price, a range (price drawn inside it), and empty -> $100
    assert (tea["pricing"], tea["Price"], cat.prices["B000TEA001"]) == ([12.99], "$12.99", 12.99)
    assert black["Price"] == "$8.5 to $11.5" and 8.5 <= cat.prices["B000TEA002"] <= 11.5
    assert (shoe["pricing"], shoe["Price"]) == ([100.0], "$100.0")
    # a string small_description becomes one bullet; products without items_ins_v2 get DUMMY_ATTR
    assert black["BulletPoints"] == ["Strong black tea for mornings"] and black["Attributes"] == ["DUMMY_ATTR"]
    assert tea["query"] == "green tea"  # lowercased and stripped
    # 4 human instruction records, one without attributes skipped
    assert len(cat.goals) == 3 and all(goal_split(i) == "test" for i in range(len(cat.goals)))
    g = next(g for g in cat.goals if g["asin"] == "B000SHOE01")
    # price 100: bound is the larger of two of [110, 120, 130, 140]
    assert g["price_upper"] in (120.0, 130.0, 140.0)
    assert g["instruction_text"] == ("i need men's running shoes with memory foam in navy, size 10"
                                     f", and price lower than {g['price_upper']:.2f} dollars")
    t = next(g for g in cat.goals if g["asin"] == "B000TEA001")
    # the trailing "." is stripped before the price clause is appended
    assert t["instruction_text"].startswith("i am looking for caffeine free organic green tea in mint flavor, "
                                            "100 count, and price lower than")
    assert t["goal_options"] == ["mint | lemon", "100 count"]


def test_goals_are_shuffled_with_seed_233_in_product_order():
    cat = load_catalog(FIXTURE)
    unshuffled = ["B000TEA001", "B000TEA002", "B000SHOE01"]  # product order, one usable record each
    random.Random(233).shuffle(unshuffled)
    assert [g["asin"] for g in cat.goals] == unshuffled


def test_webshop_split_rule():
    assert [goal_split(i) for i in (0, 499, 500, 1499, 1500, 12086)] == ["test", "test", "val", "val", "train", "train"]


def test_original_schema_fixture_plays_to_reward_one():
    env = WebShopEnv(data=FIXTURE, observation_mode="text_rich")
    assert len(env.tasks) == 3
    for task in env.tasks:
        env.reset(seed=0, options={"task_id": task.task_id})
        while True:
            obs, r, term, trunc, info = env.step(env.oracle_action())
            assert info["action_valid"], info["action_error"]
            if term or trunc:
                break
        assert term and info["success"] and r == 1.0, (task.task_id, info.get("reward_info"))


def test_missing_data_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_catalog(tmp_path / "nope")
    (tmp_path / "items_shuffle.json").write_text("[]")
    with pytest.raises(FileNotFoundError, match="items_ins_v2.json"):
        load_catalog(tmp_path)


def test_generator_is_deterministic_and_shipped_data_is_reproducible():
    a, b = generate(300, 40, seed=5), generate(300, 40, seed=5)
    assert a == b and generate(300, 40, seed=6) != a
    shipped = Path(__file__).resolve().parents[2] / "assets" / "webshop" / "items_human_ins.json.gz"
    with gzip.open(shipped, "rt") as f:
        assert json.load(f) == generate(5000, 3000, seed=0)["items_human_ins"]


def test_generated_products_and_goals_look_like_webshop():
    data = generate(len(CATEGORIES) * 10, 50, seed=1)
    items = data["items_shuffle"]
    assert len({i["product_category"].split(" › ")[1] for i in items}) >= 10
    for item in items:
        assert len(item["asin"]) == 10 and item["pricing"].startswith("$")
        assert " › " in item["product_category"] and item["small_description"]
    for records in data["items_human_ins"].values():
        for r in records:
            attrs = data["items_ins_v2"][r["asin"]]["attributes"]
            assert set(r["instruction_attributes"]) <= set(attrs)
            assert all(a in r["instruction"] for a in r["instruction_attributes"])


def test_search_ranks_matches_first_and_deterministically():
    products = [
        {"asin": "A1", "Title": "Red running shoes", "Description": "", "Attributes": ["rubber sole"]},
        {"asin": "A2", "Title": "Blue running shoe", "Description": "great for running", "Attributes": []},
        {"asin": "A3", "Title": "Green tea", "Description": "", "Attributes": ["caffeine free"]},
        {"asin": "A4", "Title": "Black tea", "Description": "", "Attributes": ["caffeine free"]},
    ]
    index = SearchIndex(products)
    assert index.search("running shoes")[:2] in (["A2", "A1"], ["A1", "A2"]) and "A3" not in index.search("running shoes")
    assert index.search("caffeine free") == ["A3", "A4"]  # a tie keeps catalog order
    assert index.search("the of and") == [] and index.search("zzzz") == []
    assert tokenize("Shoes, Leggings & BATTERIES") == ["shoe", "legging", "battery"]
