"""stepgym/WebShop-v0: the env contract, WebShop's action grammar and pages, the oracle, the CLI."""

import json
import re

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stepgym
from stepgym.cli import main as cli_main
from stepgym.envs.webshop import WebShopEnv


@pytest.fixture(scope="module")
def env():
    e = WebShopEnv()
    yield e
    e.close()


def play(env, actions):
    """Step through `actions`; return the last step's (obs, reward, terminated, truncated, info)."""
    out = None
    for a in actions:
        out = env.step(a)
    return out


def oracle_episode(env, task_id, seed=0):
    obs, info = env.reset(seed=seed, options={"task_id": task_id})
    trace = [(obs["text"], 0.0, info["state_key"])]
    actions = []
    while True:
        a = env.oracle_action()
        actions.append(a)
        obs, r, term, trunc, info = env.step(a)
        trace.append((obs["text"], r, info["state_key"]))
        if term or trunc:
            return actions, trace, info


@pytest.mark.parametrize("mode", ["text", "text_rich"])
def test_check_env_passes(mode):
    e = stepgym.make("stepgym/WebShop-v0", observation_mode=mode)
    check_env(e.unwrapped, skip_render_check=True)
    e.close()


def test_registered_and_listed():
    assert "stepgym/WebShop-v0" in stepgym.list_envs()
    e = gymnasium.make("stepgym/WebShop-v0")
    assert isinstance(e.unwrapped, WebShopEnv) and e.unwrapped.max_steps == 15


def test_bad_observation_mode_is_named():
    with pytest.raises(ValueError, match="observation_mode must be one of .*'html'"):
        WebShopEnv(observation_mode="html")


def test_same_seed_same_episode_under_oracle_and_random_actions():
    a, b = WebShopEnv(), WebShopEnv()
    for seed in (3, 4):
        (oa, ia), (ob, ib) = a.reset(seed=seed), b.reset(seed=seed)
        assert oa == ob and ia["task_id"] == ib["task_id"] and ia["available_actions"] == ib["available_actions"]
        while True:
            act = a.oracle_action()
            ra, rb = a.step(act), b.step(act)
            assert ra[0] == rb[0] and ra[1:4] == rb[1:4] and ra[4]["state_key"] == rb[4]["state_key"]
            if ra[2] or ra[3]:
                break
    # random actions drawn from the listed ones, one generator per env seeded alike
    import numpy as np

    for env_ in (a, b):
        env_.reset(seed=11)
    rngs = [np.random.default_rng(0), np.random.default_rng(0)]
    for _ in range(15):
        steps = []
        for env_, rng in zip((a, b), rngs, strict=True):
            acts = env_.available_actions()
            steps.append(env_.step(acts[int(rng.integers(len(acts)))]))
        assert steps[0][0] == steps[1][0] and steps[0][1] == steps[1][1]
        assert steps[0][4]["state_key"] == steps[1][4]["state_key"]
        if steps[0][2] or steps[0][3]:
            break


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.one_of(st.text(max_size=60), st.sampled_from(["search[]", "click[]", "click[nothing here]",
                                                            "search[[x]]", "click[buy now", "]["])))
def test_fuzzed_actions_never_raise(env, junk):
    env.reset(seed=0)
    for _ in range(2):  # on the search page, then wherever the junk (or a search) led
        obs, r, term, trunc, info = env.step(junk)
        assert isinstance(obs["text"], str) and r == 0.0
        if not info["action_valid"]:
            assert info["action_error"] and "\n" not in info["action_error"]
            assert info["action_error"] in obs["text"]
        if term or trunc:
            break
        env.step("search[shirt]")


def test_actions_are_case_insensitive_and_may_be_tagged(env):
    env.reset(seed=0)
    obs, _, _, _, info = env.step("<action>SEARCH[Yoga Mat Non Slip]</action>")
    assert info["action_valid"] and info["state_key"].startswith("results|q=yoga mat non slip|p=1")
    obs, _, _, _, info = env.step("I will go on. Click[NEXT >]")
    assert info["action_valid"] and "|p=2|" in info["state_key"]
    obs, _, _, _, info = env.step({"click": "< Prev"})
    assert info["action_valid"] and "|p=1|" in info["state_key"]


def test_invalid_actions_say_what_is_clickable(env):
    env.reset(seed=0)
    _, _, _, _, info = env.step("click[buy now]")
    assert not info["action_valid"] and "search[keywords]" in info["action_error"]
    env.step("search[dog bed]")
    obs, _, _, _, info = env.step("search[cat tree]")
    assert not info["action_valid"] and "click[back to search]" in info["action_error"]
    assert "back to search" in info["action_error"] and "next >" in info["action_error"]
    assert info["state_key"].startswith("results|q=dog bed")  # the bad action changed nothing
    _, _, _, _, info = env.step("click[buy now]")
    assert not info["action_valid"] and "'buy now' is not clickable here" in info["action_error"]
    _, _, _, _, info = env.step("buy it please")
    assert info["action_error"].startswith("expected search[keywords] or click[value]")


def test_pages_read_like_webshop(env):
    obs, info = env.reset(seed=0, options={"task_id": "webshop-00000"})
    assert obs["text"] == f"WebShop [SEP] Instruction: [SEP] {info['instruction']} [SEP] Search"
    assert info["available_actions"][0].startswith("search[") and len(info["available_actions"]) == 4
    obs, *_, info = env.step("search[women's t-shirt]")
    parts = obs["text"].split(" [SEP] ")
    assert parts[:5] == ["Instruction:", info_instr := env.goal["instruction_text"], "Back to Search",
                         "Page 1 (Total results: 50)", "Next >"] and info_instr
    asins = [p for p in parts if re.fullmatch(r"B0[A-Z0-9]{8}", p)]
    assert len(asins) == 10
    assert f"click[{asins[0].lower()}]" in info["available_actions"]
    obs, *_, info = env.step(f"click[{asins[0]}]")
    product = env.catalog.by_asin[asins[0]]
    for text in (product["Title"], f"Price: {product['Price']}", "Description", "Features", "Reviews",
                 "Attributes", "Buy Now", "< Prev"):
        assert text in obs["text"].split(" [SEP] ")
    obs, *_, info = env.step("click[features]")
    assert all(b in obs["text"] for b in product["BulletPoints"]) and info["page"] == "sub"
    obs, *_, info = env.step("click[< prev]")
    assert info["page"] == "item" and info["state_key"].startswith("item|")


def test_text_rich_marks_buttons_and_clicked_options():
    e = WebShopEnv(observation_mode="text_rich")
    e.reset(seed=0)
    e.step("search[women's t-shirt]")
    asin = next(a for a in e.engine.results("women's t-shirt") if e.catalog.by_asin[a]["options"])
    obs, *_ = e.step(f"click[{asin}]")
    assert "[button] Buy Now [button_]" in obs["text"] and "[button] < Prev [button_]" in obs["text"]
    name, values = next(iter(e.catalog.by_asin[asin]["options"].items()))
    obs, *_, info = e.step(f"click[{values[-1]}]")
    assert f"[clicked button] {values[-1]} [clicked button_]" in obs["text"]
    assert obs["text"].startswith(f"You have clicked {values[-1]}.")
    assert f"o={name}={values[-1]}" in info["state_key"]
    obs, *_ = e.step("click[< prev]")  # back to the results: the visited product is marked
    assert f"[clicked button] {asin} [clicked button_]" in obs["text"]


def test_state_key_names_page_query_item_and_options(env):
    env.reset(seed=0)
    keys = {env.state_key()}
    env.step("search[wireless mouse]")
    keys.add(env.state_key())
    asin = env.engine.results("wireless mouse")[0]
    env.step(f"click[{asin}]")
    keys.add(env.state_key())
    env.step("click[< prev]")
    assert env.state_key() in keys  # back on the same results page: the same state
    assert len(keys) == 3


def test_oracle_solves_the_shipped_test_goals(env):
    tasks = env.tasks.split("test")
    assert len(tasks) == 500
    rewards = []
    for task in tasks:
        _, trace, info = oracle_episode(env, task.task_id)
        rewards.append(trace[-1][1])
        assert info["page"] == "done"
    success = sum(r == 1.0 for r in rewards) / len(rewards)
    assert success >= 0.95, f"oracle success {success:.1%} on the test goals"


def test_oracle_recovers_from_a_detour(env):
    env.reset(seed=0, options={"task_id": "webshop-00007"})
    play(env, ["search[dog leash]", "click[next >]"])
    while True:
        obs, r, term, trunc, info = env.step(env.oracle_action())
        if term or trunc:
            break
    assert info["success"] and r == 1.0


def test_buying_the_wrong_thing_scores_below_one(env):
    obs, info = env.reset(seed=0, options={"task_id": "webshop-00001"})
    goal = env.goal
    env.step("search[women's sandals]" if "sandal" not in goal["instruction_text"] else "search[dog bed]")
    asin = [a for a in env.engine.results(env.state.keywords) if a != goal["asin"]][0]
    env.step(f"click[{asin}]")
    _, r, term, _, info = env.step("click[buy now]")
    assert term and not info["success"] and r < 1.0 and info["reward_info"]["reward"] == r


def test_shipped_data_size_and_splits(env):
    cat = env.catalog
    assert len(cat.products) >= 5000 and len({p["category"] for p in cat.products}) >= 5
    assert len({p["product_category"].split(" › ")[0] + p["query"] for p in cat.products}) >= 10
    assert len({p["product_category"].split(" › ")[1] for p in cat.products}) >= 10
    assert len(cat.goals) >= 1000
    splits = {s: len(env.tasks.split(s)) for s in env.tasks.splits()}
    assert splits == {"test": 500, "val": 1000, "train": len(cat.goals) - 1500}


def test_cli_play_reports_oracle_and_random(capsys):
    assert cli_main(["play", "stepgym/WebShop-v0", "--policy", "oracle", "--episodes", "12", "--json"]) == 0
    oracle = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert cli_main(["play", "stepgym/WebShop-v0", "--policy", "random", "--episodes", "12", "--json"]) == 0
    random_ = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert oracle["success_rate"] == 1.0
    assert random_["success_rate"] < 0.5 and random_["invalid_action_rate"] == 0.0


def test_a_custom_goal_can_be_played(env):
    product = env.catalog.products[42]
    goal = {"asin": product["asin"], "attributes": product["Attributes"][:1], "goal_options": [],
            "price_upper": 1000.0, "query": product["query"], "product_category": product["product_category"],
            "name": product["name"], "instruction_text": f"i want {product['Title'].lower()}"}
    obs, info = env.reset(seed=0, options={"task": {"task_id": "mine", "instruction": goal["instruction_text"],
                                                    "goal": goal}})
    assert info["task_id"] == "mine" and goal["instruction_text"] in obs["text"]
    while True:
        obs, r, term, trunc, info = env.step(env.oracle_action())
        if term or trunc:
            break
    assert info["success"] and r == 1.0
