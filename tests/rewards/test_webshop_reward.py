"""WebShop's reward on hand-computed cases (each number below is worked out by hand in the comment)."""

import doctest

import pytest

import stepgym.rewards.webshop as ws
from stepgym.rewards.webshop import (
    fuzzy_score,
    normalize_color,
    reward_breakdown,
    title_nouns,
    type_reward,
    webshop_reward,
)

CAT = "Clothing, Shoes & Jewelry › Men › Clothing › Shirts"


def product(**kw):
    base = {"Title": "Acme Cotton Crew Shirt", "name": "Acme Cotton Crew Shirt",
            "BulletPoints": ["Soft cotton", "Tagless collar"], "Description": "A plain shirt.",
            "Attributes": ["machine wash", "short sleeve"], "query": "men's shirt", "product_category": CAT}
    base.update(kw)
    return base


def goal(**kw):
    base = {"attributes": ["machine wash"], "goal_options": [], "price_upper": 30.0,
            "query": "men's shirt", "product_category": CAT, "name": "Acme Cotton Crew Shirt"}
    base.update(kw)
    return base


def test_module_doctest_passes():
    assert doctest.testmod(ws).failed == 0


def test_full_match_is_one():
    # 1 attr + 2 options + price, all matched: 4/4, r_type 1
    g = goal(goal_options=["navy", "large"])
    assert webshop_reward(product(), g, 20.0, {"color": "navy", "size": "large"}) == 1.0


def test_price_over_bound_loses_one_share():
    # 2/2 attrs + 1/1 option + price fails -> 3/4
    g = goal(attributes=["machine wash", "short sleeve"], goal_options=["navy"])
    r = reward_breakdown(product(), g, 30.01, {"color": "navy"})
    assert not r.price_ok and r.reward == pytest.approx(0.75)


def test_price_equal_to_bound_is_fine():
    assert webshop_reward(product(), goal(), 30.0, {}) == 1.0


def test_denominator_counts_unchosen_goal_options():
    # attr 1 + options 0 of 2 + price 1 -> 2 / (1 + 2 + 1) = 0.5
    assert webshop_reward(product(), goal(goal_options=["navy", "large"]), 10.0, {}) == pytest.approx(0.5)


def test_fuzzy_match_is_case_and_punctuation_insensitive():
    # thefuzz lowercases and strips punctuation: "Machine-Wash!" vs "machine wash" scores 100
    assert fuzzy_score("Machine-Wash!", "machine wash") == 100
    assert webshop_reward(product(Attributes=["MACHINE-WASH"]), goal(), 10.0, {}) == 1.0


def test_score_is_rounded_before_the_threshold():
    # one token of 20 chars vs the same + 7 chars: 2*20/47 = 85.106 -> rounds to 85, not > 85
    a, b = "waterresistantfabric", "waterresistantfabriccoating"
    assert fuzzy_score(a, b) == 85
    r = reward_breakdown(product(Attributes=[b]), goal(attributes=[a]), 10.0, {})
    assert r.num_attr_matches == 0 and r.reward == pytest.approx(0.5)  # (0 + 1) / 2
    # "machine wash" vs "machine washable": 2*12/28 = 85.71 -> 86 > 85, a match
    assert fuzzy_score("machine wash", "machine washable") == 86


def test_token_subset_scores_100():
    # "x-large" -> tokens {x, large} contain {large}: the original counts buying "large" for "x-large"
    assert fuzzy_score("x-large", "large") == 100
    assert webshop_reward(product(), goal(goal_options=["x-large"]), 10.0, {"size": "large"}) == 1.0


def test_attribute_found_in_text_when_not_an_attribute():
    # "tagless" is no attribute but a substring of the lowercased bullet points
    assert reward_breakdown(product(), goal(attributes=["tagless"]), 10.0, {}).num_attr_matches == 1
    # the goal attribute itself is not lowercased: "Tagless" is not in "tagless collar"
    assert reward_breakdown(product(), goal(attributes=["Tagless"]), 10.0, {}).num_attr_matches == 0


def test_colour_normalisation():
    # first COLOR_SET word (alphabetical) contained: "navy blue" -> "blue" ('blue' < 'navy')
    assert normalize_color("navy blue") == "blue"
    assert normalize_color("dark grey") == "dark" and normalize_color("light grey") == "grey"
    assert normalize_color("Navy") == "Navy"  # case-sensitive substring test, like the original
    # navy blue vs royal blue: both "blue" -> match; dark grey vs light grey: "dark" vs "grey" -> no
    assert webshop_reward(product(), goal(goal_options=["navy blue"]), 10.0, {"color": "royal blue"}) == 1.0
    r = reward_breakdown(product(), goal(goal_options=["dark grey"]), 10.0, {"color": "light grey"})
    assert r.num_option_matches == 0 and r.reward == pytest.approx(2 / 3)


def test_dict_goal_options_use_their_values():
    g = goal(goal_options={"color": "navy", "size": "large"})
    assert webshop_reward(product(), g, 10.0, {"color": "navy", "size": "large"}) == 1.0


def test_type_reward_rules():
    other = dict(query="dog bed", product_category="Pet Supplies › Dogs › Beds")
    # same query -> 1.0 even with few shared nouns
    assert type_reward(product(Title="Acme Shirt", name="Acme Shirt"), goal())[0] == 1.0
    # goal nouns: acme, cotton, crew, shirt (4). Product shares "shirt" only: 1/4 = 0.25 > 0.2 -> 1.0
    assert type_reward(product(name="Zeta Shirt", **other), goal())[0] == 1.0
    # 5 goal nouns, 1 shared: 0.2, not > 0.2, no query/category match -> 0.5
    g5 = goal(name="Acme Cotton Crew Shirt Pocket")
    assert type_reward(product(name="Zeta Shirt", **other), g5) == (0.5, False, False, 0.2)
    # 11 goal nouns, 1 shared: 0.0909 < 0.1 -> 0.1
    g11 = goal(name="acme cotton crew shirt pocket collar hem seam button cuff yoke")
    assert type_reward(product(name="Zeta Shirt", **other), g11)[0] == 0.1
    # no shared noun -> 0.0, so the whole reward is 0 whatever else matches
    assert type_reward(product(name="Zeta Blanket", **other), goal())[0] == 0.0
    assert webshop_reward(product(name="Zeta Blanket", **other), goal(), 10.0, {}) == 0.0
    # a goal name with no noun scores 0.2 -> with the query matching, still 1.0
    assert type_reward(product(), goal(name="the best"))[3] == 0.2


def test_two_shared_category_parts_count_as_a_type_match():
    g = goal(name="Acme Cotton Crew Shirt Pocket", query="other")
    p = product(name="Zeta Shirt", query="x", product_category="Clothing, Shoes & Jewelry › Men › Shoes")
    # categories share "Clothing, Shoes & Jewelry" and "Men": >= 2 -> match; title 1/5 = 0.2 -> r_type 1
    assert type_reward(p, g)[:3] == (1.0, False, True)


def test_title_nouns_drop_function_words_and_adjectives():
    assert title_nouns("Women's Soft Cotton T-Shirt for Summer, Navy") == ["cotton", "shirt", "summer"]
