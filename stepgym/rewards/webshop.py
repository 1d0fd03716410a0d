"""WebShop's purchase reward (Yao et al., 2022), as its `engine/goal.py` computes it.

    R = (attribute matches + option matches + [price <= bound]) / (|attributes| + |options| + 1) * r_type

Faithful details (each is a pitfall when re-implementing it):

- fuzzy matching is thefuzz's `token_set_ratio`: both strings lose characters 128-255, are
  lowercased and stripped of punctuation, and the score is rounded to an integer before the
  `> 85` test (`"x-large"` vs `"large"` scores 100: one token set contains the other);
- an attribute that matches no product attribute still counts when it is a raw substring of
  the lowercased title, bullet points or description (the goal attribute itself is not lowercased);
- options are colour-normalised first (the first word of `COLOR_SET`, in its alphabetical order,
  that the string contains, by plain substring), then fuzzily matched against every chosen
  option value; the denominator counts every goal option even if none was chosen;
- r_type is 1.0, dropped to 0.5 when neither the query, >= 2 `›` category parts nor a title
  score > 0.2 agree, to 0.1 when the title score is < 0.1 and to 0.0 when it is 0.

The one deliberate difference: WebShop finds the nouns of both product names with spaCy's
POS tagger (`NOUN`/`PROPN`/`PNOUN`). spaCy's models cannot be downloaded here, so
`title_nouns` approximates them: lowercased alphabetic tokens minus a closed list of
function words, common adjectives, colour words, sizes and words with adjective/adverb
suffixes. It agrees with spaCy on product nouns ("shirt", "sneakers", "blender") and on
brand names (spaCy tags them PROPN; we keep them), and differs on words spaCy tags by
context (e.g. "running" in "running shoes" is a NOUN for spaCy some of the time; here it is
never a noun). Title scores can therefore differ from the original's for the same pair.

>>> product = {"Title": "Acme Cotton Crew T-Shirt", "BulletPoints": ["machine wash"], "Description": "",
...            "Attributes": ["machine wash", "short sleeve"], "query": "t-shirts",
...            "product_category": "Clothing › Men › T-Shirts", "name": "Acme Cotton Crew T-Shirt"}
>>> goal = {"attributes": ["machine washable"], "goal_options": ["navy blue", "large"], "price_upper": 30.0,
...         "query": "t-shirts", "product_category": "Clothing › Men › T-Shirts", "name": "Acme Crew T-Shirt"}
>>> webshop_reward(product, goal, price=19.99, options={"color": "royal blue", "size": "x-large"})
1.0
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

#: WebShop's `normalize.COLOR_SET`, in its (alphabetical) order: the first one contained wins
COLOR_SET: tuple[str, ...] = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue",
    "blush", "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne",
    "charcoal", "cheetah", "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper",
    "coral", "cranberry", "cream", "crystal", "dark", "denim", "eggplant", "elephant", "espresso",
    "fuchsia", "gold", "granite", "grape", "graphite", "grass", "gray", "green", "grey", "heather",
    "indigo", "ivory", "ivy", "khaki", "lavender", "lemon", "leopard", "light", "lilac", "lime",
    "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha", "multicolor", "mushroom",
    "mustard", "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink", "plum",
    "purple", "rainbow", "red", "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver",
    "skull", "slate", "steel", "stone", "stonewash", "sunflower", "tan", "taupe", "teal", "tiger",
    "turquoise", "violet", "walnut", "wheat", "white", "wine", "yellow",
)

MATCH_THRESHOLD = 85  # a fuzzy match needs a rounded token-set ratio strictly above this

_NON_ASCII_8BIT = {i: None for i in range(128, 256)}  # thefuzz's `force_ascii` drops exactly these


def fuzzy_score(a: str, b: str) -> int:
    """thefuzz's `token_set_ratio(a, b)`: processed (ASCII, lowercase, no punctuation), rounded to an int."""
    a = default_process(str(a).translate(_NON_ASCII_8BIT))
    b = default_process(str(b).translate(_NON_ASCII_8BIT))
    return int(round(fuzz.token_set_ratio(a, b)))


def normalize_color(text: str) -> str:
    """The first `COLOR_SET` word contained in `text` (plain substring, case-sensitive), else `text`."""
    for colour in COLOR_SET:
        if colour in text:
            return colour
    return text


# -- title nouns (the spaCy approximation) ------------------------------------------------------
_FUNCTION_WORDS = frozenset("""
a an the and or nor but for with without of in on at to from by as into onto over under up down
out off about above below between through per plus than then via within x vs is are be been
this that these those it its our your their my his her we you they i me us them he she
all any each every both some more most less least no not only very so too also just
new set pack pcs pc piece pieces count ct inch inches ft oz lb lbs ml l cm mm kg g
""".split())
_ADJECTIVES = frozenset("""
small medium large big little tiny huge mini long short tall wide narrow high low soft hard light
heavy thin thick slim extra super ultra premium best great good fine nice cute pretty elegant
classic modern vintage casual formal simple plain basic natural organic fresh pure sweet sour
hot cold warm cool dry wet waterproof durable portable compact adjustable lightweight comfortable
breathable stretchy reusable rechargeable wireless electric digital smart professional
women womens men mens girls boys kids baby unisex adult adults toddler
red blue green black white grey gray pink purple yellow orange brown beige navy silver gold
multicolor clear dark bright royal ivory khaki teal olive tan
""".split())
_ADJ_SUFFIXES = ("ly", "able", "ible", "ful", "less", "ous", "ive", "ish", "est")
_WORD = re.compile(r"[a-z]+")


def title_nouns(name: str) -> list[str]:
    """Approximate nouns of a product name (WebShop uses spaCy NOUN/PROPN tags; see module doc)."""
    nouns = []
    for tok in _WORD.findall(name.lower()):
        if len(tok) < 2 or tok in _FUNCTION_WORDS or tok in _ADJECTIVES:
            continue
        if tok.endswith(_ADJ_SUFFIXES) and len(tok) > 5:
            continue
        nouns.append(tok)
    return nouns


@dataclass(frozen=True)
class RewardBreakdown:
    """The reward and its parts, as WebShop's `get_reward(..., verbose=True)` reports them."""

    reward: float
    r_type: float
    num_attr_matches: int
    num_option_matches: int
    price_ok: bool
    query_match: bool
    category_match: bool
    title_score: float


def type_reward(product: Mapping[str, Any], goal: Mapping[str, Any]) -> tuple[float, bool, bool, float]:
    """(r_type, query_match, category_match, title_score) of a purchased product for a goal."""
    query_match = product.get("query") == goal.get("query")
    p_cat = {x.strip() for x in str(product.get("product_category", "")).split("›")}
    g_cat = {x.strip() for x in str(goal.get("product_category", "")).split("›")}
    category_match = len(p_cat & g_cat) >= 2
    p_nouns = set(title_nouns(str(product.get("name", product.get("Title", "")))))
    g_nouns = title_nouns(str(goal.get("name", "")))
    # like the original, the denominator counts repeated goal nouns (a list), the overlap a set
    title_score = 0.2 if not g_nouns else len(p_nouns & set(g_nouns)) / len(g_nouns)
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type, query_match, category_match, title_score


def attribute_matches(product: Mapping[str, Any], goal_attributes: Sequence[str]) -> int:
    """How many goal attributes the product has (fuzzy against its attributes, else as a text substring)."""
    p_attrs = list(product.get("Attributes", []))
    title = str(product.get("Title", "")).lower()
    bullets = " ".join(product.get("BulletPoints", [])).lower()
    desc = str(product.get("Description", "")).lower()
    n = 0
    for g_attr in goal_attributes:
        if any(fuzzy_score(p_attr, g_attr) > MATCH_THRESHOLD for p_attr in p_attrs):
            n += 1
        elif g_attr in title or g_attr in bullets or g_attr in desc:
            n += 1
    return n


def option_matches(chosen_options: Sequence[str], goal_options: Sequence[str]) -> int:
    """How many goal options some chosen option value matches (after colour normalisation)."""
    chosen = [normalize_color(o) for o in chosen_options]
    n = 0
    for g_opt in (normalize_color(o) for o in goal_options):
        if any(fuzzy_score(p_opt, g_opt) > MATCH_THRESHOLD for p_opt in chosen):
            n += 1
    return n


def reward_breakdown(
    product: Mapping[str, Any],
    goal: Mapping[str, Any],
    price: float,
    options: Mapping[str, str],
) -> RewardBreakdown:
    """The WebShop reward of buying `product` at `price` with `options` chosen, with its parts.

    `product`: `Title`, `BulletPoints`, `Description`, `Attributes`, `query`, `product_category`
    (and `name`, defaulting to `Title`). `goal`: `attributes`, `goal_options` (list of values; a
    dict's values are used), `price_upper`, `query`, `product_category`, `name`. `options`:
    option name -> chosen value.
    """
    goal_options = goal.get("goal_options") or []
    if isinstance(goal_options, Mapping):
        goal_options = list(goal_options.values())
    goal_attrs = list(goal.get("attributes") or [])
    r_type, query_match, category_match, title_score = type_reward(product, goal)
    n_attr = attribute_matches(product, goal_attrs)
    n_opt = option_matches(list(options.values()), goal_options)
    price_ok = float(price) <= float(goal["price_upper"])
    total = (n_attr + n_opt + int(price_ok)) / (len(goal_attrs) + len(goal_options) + 1)
    return RewardBreakdown(
        reward=total * r_type, r_type=r_type, num_attr_matches=n_attr, num_option_matches=n_opt,
        price_ok=price_ok, query_match=query_match, category_match=category_match,
        title_score=title_score,
    )


def webshop_reward(
    product: Mapping[str, Any], goal: Mapping[str, Any], price: float, options: Mapping[str, str]
) -> float:
    """The WebShop reward in [0, 1] of buying `product` at `price` with `options` (1.0 = success)."""
    return reward_breakdown(product, goal, price, options).reward
