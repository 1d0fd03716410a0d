"""WebShop (Yao et al., 2022): find and buy the product an instruction describes, by searching and clicking.

Differences from WebShop's text env, all deliberate: `search[...]` works only where there is a
search bar (WebShop's text env accepts it anywhere, but agents are told to search only there);
an action outside the grammar or not clickable is reported as invalid (`action_valid=False`)
instead of a silent no-op; the verb is case-insensitive too; and `<action>...</action>` tags
are read. Custom goals: `reset(options={"task": {"task_id": ..., "instruction": ..., "goal":
{...}}})` with a goal dict in WebShop's form (asin, attributes, goal_options, price_upper, query,
product_category, name, instruction_text).
"""

from __future__ import annotations

import copy
import math
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from stepgym.envs.core import ActionError, Outcome, StepEnv
from stepgym.envs.tasks import Task, TaskSuite
from stepgym.envs.webshop.data import Catalog, goal_tasks, load_catalog
from stepgym.envs.webshop.engine import (
    BACK_TO_SEARCH,
    BUY_NOW,
    NEXT_PAGE,
    PREV_PAGE,
    PRODUCT_WINDOW,
    Page,
    ShopState,
    WebShopEngine,
)
from stepgym.envs.webshop.render import OBSERVATION_MODES, render_text, render_text_rich
from stepgym.envs.webshop.search import SearchIndex
from stepgym.paths import asset_path
from stepgym.rewards.webshop import fuzzy_score, normalize_color, webshop_reward

ACTION_DOC = """\
You are shopping on WebShop. Reply with exactly one action:
  search[keywords]   type keywords into the search bar (only on the search page)
  click[value]       click a button, a product (its ID, e.g. click[B07ABCD123]) or an option (e.g. click[large])
Clickable values are listed in the page text (text_rich mode marks them [button] ... [button_]);
both are case-insensitive. You may wrap the action in <action></action>. The episode ends when you
click[Buy Now]: the reward (0 to 1) says how well the product, its options and its price match
the instruction; 1 means success."""

_TAG = re.compile(r"<action>(.*?)</action>", re.IGNORECASE | re.DOTALL)
_FULL = re.compile(r"^\s*(search|click)\s*\[(.*)\]\s*$", re.IGNORECASE | re.DOTALL)
_ANY = re.compile(r"(search|click)\s*\[([^\[\]]*)\]", re.IGNORECASE)
_PRICE_CLAUSE = re.compile(r",? and price lower than [\d.]+ dollars$")


@dataclass
class Shop:
    """A loaded catalog with its search engine and goal suite (shared by every env on it)."""

    catalog: Catalog
    engine: WebShopEngine
    tasks: TaskSuite


_SHOPS: dict[tuple, Shop] = {}
_SHOPS_LOCK = threading.Lock()


def load_shop(data: str | Path | None = None, num_products: int | None = None,
              show_attrs: bool = True) -> Shop:
    """The shop for a WebShop data folder (default: the shipped catalog), built once per process."""
    directory = Path(data) if data is not None else asset_path("webshop", "items_shuffle.json.gz").parent
    key = (str(directory.resolve()), num_products, show_attrs)
    with _SHOPS_LOCK:
        shop = _SHOPS.get(key)
        if shop is None:
            catalog = load_catalog(directory, num_products=num_products,
                                   name="webshop" if data is None else None)
            engine = WebShopEngine(catalog, SearchIndex(catalog.products), show_attrs=show_attrs)
            shop = _SHOPS[key] = Shop(catalog, engine, goal_tasks(catalog))
        return shop


def goal_query(instruction: str) -> str:
    """The instruction without its price clause: the oracle's (and the random policy's) search."""
    return _PRICE_CLAUSE.sub("", instruction.strip())


def parse_webshop_action(action: str | dict) -> tuple[str, str]:
    """`(verb, argument)` from `search[...]` / `click[...]` text (or a dict); ActionError otherwise."""
    if isinstance(action, dict):
        for verb in ("search", "click"):
            if isinstance(action.get(verb), str):
                return verb, action[verb]
        verb, arg = action.get("action"), action.get("value", action.get("argument"))
        if isinstance(verb, str) and verb.lower() in ("search", "click") and isinstance(arg, str):
            return verb.lower(), arg
        raise ActionError(f"expected a dict like {{'click': 'buy now'}} or {{'search': 'red shoes'}}, got {action!r:.80}")
    tagged = _TAG.findall(action)
    text = tagged[-1] if tagged else action
    m = _FULL.match(text)
    if m is None:
        found = _ANY.findall(text)
        if not found:
            shown = " ".join(text.split())[:60]
            raise ActionError(f"expected search[keywords] or click[value], got {shown!r}")
        m_verb, m_arg = found[-1]
        return m_verb.lower(), m_arg
    return m.group(1).lower(), m.group(2)


class WebShopEnv(StepEnv):
    """WebShop: search a catalog, open products, pick options and buy what the instruction asks for."""

    action_doc = ACTION_DOC
    action_examples = ("search[red running shoes]", "click[buy now]", "click[next >]",
                       "click[< prev]", "click[back to search]", "click[description]", "click[large]")

    def __init__(
        self,
        data: str | Path | None = None,
        observation_mode: str = "text",
        split: str = "all",
        max_steps: int = 15,
        num_products: int | None = None,
        show_attrs: bool = True,
        render_mode: str | None = None,
    ) -> None:
        """`data`: a WebShop data folder (items_shuffle / items_ins_v2 / items_human_ins .json[.gz]);
        default: the shipped synthetic catalog. `observation_mode`: "text" or "text_rich".
        `num_products`: use only the first N products (like WebShop's option of the same name)."""
        if observation_mode not in OBSERVATION_MODES:
            raise ValueError(f"observation_mode must be one of {OBSERVATION_MODES}, got {observation_mode!r}")
        self.shop = load_shop(data, num_products=num_products, show_attrs=show_attrs)
        self.observation_mode = observation_mode
        super().__init__(self.shop.tasks, split=split, max_steps=max_steps, render_mode=render_mode)
        self.engine = self.shop.engine
        self.catalog = self.shop.catalog
        self.goal: dict[str, Any] = {}
        self.state = ShopState()
        self.visited: set[str] = set()
        self.reward_info: dict[str, Any] | None = None
        self._page: Page | None = None
        self._suggested: list[str] = []
        self._oracle_asin: str | None = None
        self._oracle_options: dict[str, str] | None = None
        self._reward: float | None = None

    # -- task ------------------------------------------------------------------------------
    def _load_task(self, task: Task) -> None:
        if isinstance(task.data.get("goal"), dict):
            self.goal = dict(task.data["goal"])
        elif "goal_index" in task.data:
            self.goal = self.catalog.goals[int(task.data["goal_index"])]
        else:
            raise ValueError(f"WebShop task {task.task_id!r} needs data['goal_index'] or data['goal']")
        self.goal.setdefault("instruction_text", task.instruction)
        self.state = ShopState()
        self.visited = set()
        self.reward_info = None
        self._oracle_asin = None
        self._oracle_options = None
        self._reward = None
        picks = self.np_random.choice(len(self.catalog.queries), size=min(3, len(self.catalog.queries)), replace=False)
        self._suggested = [goal_query(self.goal["instruction_text"])] + [self.catalog.queries[int(i)] for i in picks]
        self._refresh()

    def _snapshot_state(self):
        # ShopState is frozen and the goal is not changed in an episode; the page is rebuilt
        return {"goal": self.goal, "state": self.state, "visited": set(self.visited),
                "reward_info": copy.deepcopy(self.reward_info), "suggested": list(self._suggested),
                "oracle_asin": self._oracle_asin, "oracle_options": copy.deepcopy(self._oracle_options),
                "reward": self._reward}

    def _restore_state(self, s) -> None:
        self.goal, self.state, self.visited = s["goal"], s["state"], set(s["visited"])
        self.reward_info, self._suggested = copy.deepcopy(s["reward_info"]), list(s["suggested"])
        self._oracle_asin, self._oracle_options = s["oracle_asin"], copy.deepcopy(s["oracle_options"])
        self._reward = s["reward"]
        self._refresh()

    def _refresh(self) -> None:
        self._page = self.engine.page(self.state, self.goal["instruction_text"], reward=self._reward)

    # -- actions ---------------------------------------------------------------------------
    def parse_action(self, action: str | dict) -> dict[str, Any]:
        verb, arg = parse_webshop_action(action)
        arg = " ".join(arg.split()).lower()
        if not arg:
            raise ActionError(f"{verb}[...] needs a non-empty argument, e.g. search[red running shoes]")
        return {"action": verb, "value": arg}

    def _clickable_list(self, limit: int = 12) -> str:
        names = list(self._page.clickables)
        shown = ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")
        return shown or "nothing"

    def _apply(self, parsed: dict[str, Any]) -> Outcome:
        verb, value = parsed["action"], parsed["value"]
        if verb == "search":
            if not self._page.has_search_bar:
                raise ActionError(f"there is no search bar on this page; click[back to search] first. "
                                  f"Clickable now: {self._clickable_list()}")
            self.state = self.engine.search_state(value)
            self._refresh()
            return Outcome()
        element = self._page.clickables.get(value)
        if element is None:
            where = "use search[keywords] on the search page" if self._page.has_search_bar else \
                f"clickable now: {self._clickable_list()}"
            raise ActionError(f"{value!r} is not clickable here; {where}")
        if element.buy:
            info = self.engine.buy(self.state, self.goal)
            self.reward_info = info.__dict__
            self._reward = info.reward
            self.state = replace(self.state, page="done", sub="")
            self._refresh()
            success = math.isclose(info.reward, 1.0)
            return Outcome(reward=float(info.reward), terminated=True, success=success)
        if element.kind == "product":
            self.visited.add(element.text)
        self.state = element.target
        self._refresh()
        return Outcome()

    # -- observation -------------------------------------------------------------------------
    def _observe_text(self) -> str:
        if self.observation_mode == "text_rich":
            return render_text_rich(self._page, self.visited)
        return render_text(self._page)

    def page(self) -> Page:
        """The current page model (what the text modes and the web site render)."""
        return self._page

    def state_key(self) -> str:
        return self.state.key()

    def available_actions(self) -> list[str]:
        """Full action strings valid now: searches on the search page, else every clickable."""
        if self.state.page == "done":
            return []
        if self._page.has_search_bar:
            return [f"search[{q}]" for q in self._suggested]
        return [f"click[{name}]" for name in self._page.clickables]

    def _step_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"available_actions": self.available_actions(), "page": self.state.page}
        if self.reward_info is not None:
            info["reward_info"] = self.reward_info
        return info

    # -- oracle -------------------------------------------------------------------------------
    def _goal_option_values(self, product: dict) -> dict[str, str]:
        """For each option of `product`, the value that best matches a goal option (if any matches)."""
        wanted = [normalize_color(o) for o in self.goal.get("goal_options", [])]
        chosen: dict[str, str] = {}
        for name, values in product["options"].items():
            best, best_score = None, 85
            for value in values:
                exact = value in self.goal.get("goal_options", [])
                score = max((fuzzy_score(normalize_color(value), w) for w in wanted), default=0) + (1 if exact else 0)
                if score > best_score:
                    best, best_score = value, score
            if best is not None:
                chosen[name] = best
        return chosen

    def _oracle_target(self, results: list[str]) -> str:
        """The goal's own product when the search found it, else the best-rewarded result."""
        target = self.goal.get("asin")
        if target in results or not results:
            return target
        def value(asin: str) -> float:
            product = self.catalog.by_asin[asin]
            return webshop_reward(product, self.goal, self.catalog.prices[asin], self._goal_option_values(product))
        return max(results, key=lambda a: (value(a), -results.index(a)))

    def oracle_action(self) -> str:
        """Search with the goal's words, page to the matching product, set its options, buy it."""
        s, query = self.state, goal_query(self.goal["instruction_text"]).lower()
        query = " ".join(query.split())
        if s.page == "search":
            return f"search[{query}]"
        if s.page == "done":
            return f"click[{BUY_NOW.lower()}]"  # nothing left to do; any action is a no-op here
        if s.keywords != query:
            return f"click[{BACK_TO_SEARCH.lower()}]"
        results = self.engine.results(query)
        if self._oracle_asin is None:
            self._oracle_asin = self._oracle_target(results)
        target = self._oracle_asin
        if s.page == "results":
            if target not in results:
                return f"click[{BACK_TO_SEARCH.lower()}]"
            want_page = results.index(target) // PRODUCT_WINDOW + 1
            if want_page == s.page_no:
                return f"click[{target.lower()}]"
            return f"click[{(NEXT_PAGE if want_page > s.page_no else PREV_PAGE).lower()}]"
        if s.asin != target:
            return f"click[{PREV_PAGE.lower()}]"
        if s.page == "sub":
            return f"click[{PREV_PAGE.lower()}]"
        if self._oracle_options is None:  # the target is fixed for the episode: match options once
            self._oracle_options = self._goal_option_values(self.catalog.by_asin[target])
        chosen = dict(s.options)
        for name, value in self._oracle_options.items():
            if chosen.get(name) != value:
                return f"click[{value}]"
        return f"click[{BUY_NOW.lower()}]"
