"""The shop as a state machine plus one page model, shared by the text env and the HTTP site.

A `ShopState` names where a shopper is (page, query, result page, item, chosen options, sub
page). `WebShopEngine.page(state)` builds the `Page` shown there: a list of `Element`s, each
clickable one carrying the state it leads to. The text env follows `Element.target` when the
agent writes `click[<text>]`; the web site renders the same targets as links, so both walk
the same graph and reach the same reward for the same clicks.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from stepgym.envs.webshop.data import Catalog
from stepgym.envs.webshop.search import SearchIndex
from stepgym.rewards.webshop import RewardBreakdown, reward_breakdown

PRODUCT_WINDOW = 10
BUY_NOW, NEXT_PAGE, PREV_PAGE, BACK_TO_SEARCH = "Buy Now", "Next >", "< Prev", "Back to Search"
SUB_PAGES = ("Description", "Features", "Reviews", "Attributes")
PAGES = ("search", "results", "item", "sub", "done")


@dataclass(frozen=True)
class ShopState:
    """Where the shopper is: the page and everything that decides what it shows."""

    page: str = "search"
    keywords: str = ""
    page_no: int = 1
    asin: str = ""
    options: tuple[tuple[str, str], ...] = ()   # (option name, chosen value), sorted by name
    sub: str = ""

    def with_option(self, name: str, value: str) -> ShopState:
        chosen = dict(self.options)
        chosen[name] = value
        return replace(self, options=tuple(sorted(chosen.items())))

    def key(self) -> str:
        """A short string naming this state (GiGPO's step-group key)."""
        opts = ",".join(f"{k}={v}" for k, v in self.options)
        return f"{self.page}|q={self.keywords}|p={self.page_no}|a={self.asin}|o={opts}|s={self.sub}"


@dataclass(frozen=True)
class Element:
    """One piece of a page: text, or a clickable (button, product link, option) with its target."""

    kind: str                       # text | heading | button | product | option | search
    text: str
    target: ShopState | None = None  # the state a click leads to (None for Buy Now and plain text)
    buy: bool = False
    selected: bool = False          # an option already chosen
    group: str = ""                 # the option's name
    css: str = ""                   # a hint for the HTML renderer (title, price, ...)

    @property
    def clickable(self) -> bool:
        return self.kind in ("button", "product", "option") and (self.target is not None or self.buy)


@dataclass
class Page:
    """What a state shows: its elements in reading order and the clickables by lowercased text."""

    state: ShopState
    instruction: str
    elements: list[Element]
    clickables: dict[str, Element] = field(default_factory=dict)
    products: list[dict[str, Any]] = field(default_factory=list)  # result cards, for the HTML grid
    reward: float | None = None

    def __post_init__(self) -> None:
        for el in self.elements:
            if el.clickable:
                self.clickables[el.text.lower()] = el  # like WebShop, a later duplicate wins

    @property
    def has_search_bar(self) -> bool:
        return self.state.page == "search"


class WebShopEngine:
    """Search, navigation and purchase over one catalog; stateless apart from a search cache."""

    def __init__(self, catalog: Catalog, index: SearchIndex, show_attrs: bool = True,
                 cache_size: int = 512) -> None:
        self.catalog = catalog
        self.index = index
        self.show_attrs = show_attrs
        self._cache: dict[str, list[str]] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()  # the site serves requests from several threads

    # -- search ------------------------------------------------------------------------------
    def results(self, keywords: str) -> list[str]:
        """Asins of the top-50 search results for `keywords` (cached)."""
        hit = self._cache.get(keywords)
        if hit is None:
            hit = self.index.search(keywords)
            with self._lock:
                if len(self._cache) >= self._cache_size:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[keywords] = hit
        return hit

    @staticmethod
    def search_state(keywords: str) -> ShopState:
        """The results page a search for `keywords` leads to (WebShop lowercases queries)."""
        return ShopState(page="results", keywords=" ".join(keywords.lower().split()), page_no=1)

    # -- pages -------------------------------------------------------------------------------
    def page(self, state: ShopState, instruction: str, reward: float | None = None) -> Page:
        """The page model shown at `state` for a shopper with this instruction."""
        if state.page == "search":
            els = [Element("heading", "WebShop"), Element("text", "Instruction:"),
                   Element("text", instruction, css="instruction"), Element("search", "Search")]
            return Page(state, instruction, els)
        if state.page == "done":
            els = [Element("heading", "Thank you for shopping with us!"), Element("text", "Purchased"),
                   Element("text", state.asin), Element("text", "Your score (min 0.0, max 1.0)"),
                   Element("text", f"{reward if reward is not None else 0.0}", css="reward")]
            return Page(state, instruction, els, reward=reward)
        head = [Element("text", "Instruction:"), Element("text", instruction, css="instruction"),
                Element("button", BACK_TO_SEARCH, target=ShopState())]
        if state.page == "results":
            return self._results_page(state, instruction, head)
        product = self.catalog.by_asin[state.asin]
        back = Element("button", PREV_PAGE, target=replace(state, page="results", asin="", options=(), sub="")
                       if state.page == "item" else replace(state, page="item", sub=""))
        if state.page == "item":
            return self._item_page(state, instruction, head + [back], product)
        return self._sub_page(state, instruction, head + [back], product)

    def _results_page(self, state: ShopState, instruction: str, els: list[Element]) -> Page:
        asins = self.results(state.keywords)
        total = len(asins)
        els.append(Element("text", f"Page {state.page_no} (Total results: {total})", css="count"))
        if state.page_no > 1:
            els.append(Element("button", PREV_PAGE, target=replace(state, page_no=state.page_no - 1)))
        if state.page_no * PRODUCT_WINDOW < total:
            els.append(Element("button", NEXT_PAGE, target=replace(state, page_no=state.page_no + 1)))
        shown = asins[(state.page_no - 1) * PRODUCT_WINDOW: state.page_no * PRODUCT_WINDOW]
        cards = []
        for asin in shown:
            p = self.catalog.by_asin[asin]
            cards.append(p)
            els.append(Element("product", asin, target=ShopState("item", state.keywords, state.page_no, asin)))
            els.append(Element("text", p["Title"], css="title"))
            els.append(Element("text", p["Price"], css="price"))
        return Page(state, instruction, els, products=cards)

    def _item_page(self, state: ShopState, instruction: str, els: list[Element], product: dict) -> Page:
        chosen = dict(state.options)
        for name, values in product["options"].items():
            els.append(Element("heading", name, css="option-name"))
            for value in values:
                els.append(Element("option", value, target=state.with_option(name, value),
                                   selected=chosen.get(name) == value, group=name))
        els += [Element("text", product["Title"], css="title"),
                Element("text", f"Price: {product['Price']}", css="price"),
                Element("text", f"Rating: {product['Rating']}", css="rating")]
        for sub in SUB_PAGES:
            if sub != "Attributes" or self.show_attrs:
                els.append(Element("button", sub, target=replace(state, page="sub", sub=sub)))
        els.append(Element("button", BUY_NOW, buy=True, css="buy"))
        return Page(state, instruction, els)

    def _sub_page(self, state: ShopState, instruction: str, els: list[Element], product: dict) -> Page:
        if state.sub == "Description":
            els.append(Element("text", product["Description"]))
        elif state.sub == "Features":
            els += [Element("text", b) for b in product["BulletPoints"]]
        elif state.sub == "Reviews":
            for r in product["Reviews"]:
                els += [Element("text", str(r.get("title", ""))), Element("text", str(r.get("score", ""))),
                        Element("text", str(r.get("body", "")))]
        else:
            els += [Element("text", a) for a in product["Attributes"]]
        return Page(state, instruction, els)

    # -- purchase ------------------------------------------------------------------------------
    def buy(self, state: ShopState, goal: dict[str, Any]) -> RewardBreakdown:
        """The reward of buying the item at `state` with its chosen options, for `goal`."""
        product = self.catalog.by_asin[state.asin]
        return reward_breakdown(product, goal, self.catalog.prices[state.asin], dict(state.options))

    # -- URLs (the site's address for each state) -----------------------------------------------
    @staticmethod
    def url(session: str, state: ShopState) -> str:
        """The site path that shows `state` (Buy Now posts to the item's `/buy` path)."""
        from urllib.parse import quote, urlencode

        base = f"/{quote(session)}"
        if state.page == "search":
            return f"{base}/"
        query: dict[str, Any] = {"q": state.keywords, "page": state.page_no}
        if state.page == "results":
            return f"{base}/results?{urlencode(query)}"
        if state.options:
            query["options"] = json.dumps(dict(state.options), sort_keys=True)
        path = f"{base}/item/{quote(state.asin)}"
        if state.page == "sub":
            path += f"/{state.sub}"
        elif state.page == "done":
            path += "/buy"
        return f"{path}?{urlencode(query)}"
