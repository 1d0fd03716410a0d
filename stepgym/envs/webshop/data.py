"""Load a WebShop catalog and its goals from WebShop's own files (the shipped synthetic ones or the originals).

Files, in WebShop's schema (plain `.json` or gzip-compressed `.json.gz`):

- `items_shuffle.json`: a list of products (`asin`, `name`, `full_description`,
  `small_description`, `pricing`, `customization_options`, `images`, `product_category`,
  `category`, `query`; optional `average_rating` and `reviews`, which the originals keep in
  a separate reviews file);
- `items_ins_v2.json`: `{asin: {"attributes": [...], ...}}` (missing -> `["DUMMY_ATTR"]`);
- `items_human_ins.json`: `{asin: [{"instruction", "instruction_attributes",
  "instruction_options", ...}]}` (records with no attributes are skipped).

As in WebShop: asins that are "nan" or longer than 10 characters are dropped and the first of
duplicate asins wins; a price range's price is drawn uniformly inside it; a goal's price bound
is the larger of two of the four multiples of $10 above the price; goals are shuffled with
seed 233 and split test = 0-499, val = 500-1499, train = the rest. WebShop draws the prices
and bounds from Python's unseeded global RNG; here they come from `random.Random(seed)` so that
a catalog always yields the same tasks.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from stepgym.envs.tasks import Task, TaskSuite

PRICE_RANGE = [10.0 * i for i in range(1, 100)]
GOAL_SHUFFLE_SEED = 233
FILES = ("items_shuffle", "items_ins_v2", "items_human_ins")


@dataclass
class Catalog:
    """Products by asin (WebShop's processed product dicts), their prices, and the goals."""

    products: list[dict[str, Any]]
    by_asin: dict[str, dict[str, Any]]
    prices: dict[str, float]
    goals: list[dict[str, Any]]
    name: str = "webshop"
    queries: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.products)


def _read_json(directory: Path, stem: str) -> Any:
    for suffix in (".json.gz", ".json"):
        path = directory / f"{stem}{suffix}"
        if path.exists():
            opener = gzip.open if suffix.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as f:
                return json.load(f)
    raise FileNotFoundError(
        f"{stem}.json (or {stem}.json.gz) not found in {str(directory)!r}; a WebShop data folder "
        f"holds {', '.join(s + '.json' for s in FILES)}"
    )


def _parse_pricing(pricing: Any) -> tuple[list[float], str]:
    """WebShop's pricing parse: '$12.99 - $18.49' -> ([12.99, 18.49], '$12.99 to $18.49'); empty -> 100."""
    if not pricing:
        return [100.0], "$100.0"
    values = [float(Decimal(re.sub(r"[^\d.]", "", p))) for p in str(pricing).split("$")[1:]
              if re.sub(r"[^\d.]", "", p)]
    if not values:
        return [100.0], "$100.0"
    if len(values) == 1:
        return values, f"${values[0]}"
    return values[:2], f"${values[0]} to ${values[1]}"


def process_product(raw: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """One raw `items_shuffle` record -> the product dict the engine and reward read."""
    asin = raw["asin"]
    pricing, price_tag = _parse_pricing(raw.get("pricing"))
    options: dict[str, list[str]] = {}
    option_to_image: dict[str, Any] = {}
    for name, contents in (raw.get("customization_options") or {}).items():
        if contents is None:
            continue
        values = []
        for content in contents:
            value = str(content["value"]).strip().replace("/", " | ").lower()
            values.append(value)
            option_to_image[value] = content.get("image")
        options[name.lower()] = values
    bullets = raw.get("small_description")
    bullets = bullets if isinstance(bullets, list) else [bullets or ""]
    attrs = attributes.get(asin, {}).get("attributes") or ["DUMMY_ATTR"]
    images = raw.get("images") or [None]
    return {
        "asin": asin,
        "name": raw.get("name", ""),
        "Title": raw.get("name", ""),
        "Description": raw.get("full_description") or "",
        "BulletPoints": [str(b) for b in bullets],
        "Attributes": list(attrs),
        "pricing": pricing,
        "Price": price_tag,
        "options": options,
        "option_to_image": option_to_image,
        "MainImage": images[0],
        "category": raw.get("category", ""),
        "product_category": raw.get("product_category", ""),
        "query": str(raw.get("query", "")).lower().strip(),
        "Rating": raw.get("average_rating", "N.A."),
        "Reviews": list(raw.get("reviews") or []),
    }


def human_goals(products: list[dict], prices: dict[str, float], human: dict[str, list[dict]],
                rng: random.Random) -> list[dict[str, Any]]:
    """WebShop's `get_human_goals`: one goal per instruction record, in product order."""
    goals = []
    for product in products:
        asin = product["asin"]
        for record in human.get(asin, []):
            attrs = record.get("instruction_attributes") or []
            if not attrs:
                continue
            price_range = [p for p in PRICE_RANGE if p > prices[asin]][:4]
            if len(price_range) >= 2:
                _, price_upper = sorted(rng.sample(price_range, 2))
                price_text = f", and price lower than {price_upper:.2f} dollars"
            else:
                price_upper, price_text = 1000000.0, ""
            goals.append({
                "asin": asin,
                "category": product["category"],
                "query": product["query"],
                "name": product["name"],
                "product_category": product["product_category"],
                "instruction_text": str(record["instruction"]).strip(".") + price_text,
                "attributes": list(attrs),
                "price_upper": float(price_upper),
                "goal_options": list(record.get("instruction_options") or []),
            })
    return goals


def load_catalog(directory: str | Path, num_products: int | None = None, seed: int = 0,
                 name: str | None = None) -> Catalog:
    """Read a WebShop data folder (see module doc) into a `Catalog` with shuffled goals."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"WebShop data folder {str(directory)!r} does not exist")
    raw_items = _read_json(directory, "items_shuffle")
    attributes = _read_json(directory, "items_ins_v2")
    human = _read_json(directory, "items_human_ins")
    if not isinstance(raw_items, list):
        raise ValueError(f"items_shuffle in {str(directory)!r} must be a list of products, got {type(raw_items).__name__}")
    if num_products is not None:
        raw_items = raw_items[:num_products]
    rng = random.Random(seed)
    products, seen = [], set()
    for raw in raw_items:
        asin = str(raw.get("asin", ""))
        if asin == "nan" or not asin or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        products.append(process_product(raw, attributes))
    prices = {}
    for p in products:
        lo_hi = p["pricing"]
        prices[p["asin"]] = lo_hi[0] if len(lo_hi) == 1 else rng.uniform(*lo_hi[:2])
    goals = human_goals(products, prices, human, rng)
    random.Random(GOAL_SHUFFLE_SEED).shuffle(goals)
    queries = sorted({p["query"] for p in products if p["query"]})
    return Catalog(products=products, by_asin={p["asin"]: p for p in products}, prices=prices,
                   goals=goals, name=name or directory.name, queries=queries)


def goal_split(index: int) -> str:
    """WebShop's split of the shuffled goal list: test 0-499, val 500-1499, train the rest."""
    return "test" if index < 500 else "val" if index < 1500 else "train"


def goal_tasks(catalog: Catalog) -> TaskSuite:
    """The catalog's goals as a TaskSuite (`task_id` = `<catalog>-<index>`, split by WebShop's rule)."""
    tasks = [
        Task(task_id=f"{catalog.name}-{i:05d}", instruction=g["instruction_text"], split=goal_split(i),
             data={"goal_index": i, "asin": g["asin"]})
        for i, g in enumerate(catalog.goals)
    ]
    if not tasks:
        raise ValueError(f"catalog {catalog.name!r} has no goals (items_human_ins has no usable records)")
    return TaskSuite(tasks, name=catalog.name)
