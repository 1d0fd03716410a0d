"""The WebShop site over real HTTP on 127.0.0.1: it walks the same pages as the text env and scores alike."""

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from stepgym.envs.webshop import WebShopEnv
from stepgym.envs.webshop.env import goal_query
from stepgym.envs.webshop.site import WebShopSite

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site():
    with WebShopSite() as s:
        yield s


@pytest.fixture(scope="module")
def client(site):
    with httpx.Client(base_url=site.base_url, follow_redirects=True, timeout=10) as c:
        yield c


def _links(page: str, cls: str) -> dict[str, str]:
    """Text -> href of the anchors with this class (the site's clickables)."""
    out = {}
    for href, text in re.findall(rf'<a class=["\']{cls}[^"\']*["\'] href=["\']([^"\']+)["\']>([^<]+)</a>', page):
        out[html.unescape(text).lower()] = html.unescape(href)
    return out


def shop_over_http(client, task_id, query, pick_asin, pick_options):
    """Search, open a product, choose options, Buy Now, all by following the site's own links/forms."""
    r = client.get(f"/{task_id}/")
    assert r.status_code == 200 and "id='search_input'" in r.text
    form = re.search(r"<form method='get' action='([^']+)'>.*name='keywords'", r.text)
    assert form, "the search page has a search form"
    r = client.get(form.group(1), params={"keywords": query})
    assert r.status_code == 200 and "/results?" in str(r.url)
    page_no = 1
    while True:
        products = _links(r.text, "product-link")
        if pick_asin.lower() in products:
            break
        buttons = _links(r.text, "btn")
        assert "next >" in buttons, f"{pick_asin} not in the results"
        r = client.get(buttons["next >"])
        page_no += 1
    r = client.get(products[pick_asin.lower()])
    assert r.status_code == 200 and f"/item/{pick_asin}" in str(r.url)
    for value in pick_options:
        r = client.get(_links(r.text, "btn option")[value])
        assert 'selected" href' in r.text and value in _links(r.text, "btn option selected")
    buy = re.search(r"<form method='post' action='([^']+)'><button class='btn btn-buy'", r.text)
    r = client.post(html.unescape(buy.group(1)))
    assert r.status_code == 200 and "Thank you for shopping with us!" in r.text
    return float(re.search(r"id='reward'>([^<]+)<", r.text).group(1)), page_no


def shop_in_text_mode(env, task_id, query, pick_asin, pick_options, next_clicks):
    env.reset(seed=0, options={"task_id": task_id})
    actions = [f"search[{query}]"] + ["click[next >]"] * next_clicks + [f"click[{pick_asin}]"]
    actions += [f"click[{v}]" for v in pick_options] + ["click[buy now]"]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        assert info["action_valid"], info["action_error"]
    assert term
    return r


def test_http_round_trip_matches_text_mode_reward(client):
    env = WebShopEnv()
    cases = []
    # the oracle's path (reward 1), and a deliberately poor purchase (another product, odd options)
    for task_id in ("webshop-00000", "webshop-00002"):
        env.reset(seed=0, options={"task_id": task_id})
        goal = env.goal
        product = env.catalog.by_asin[goal["asin"]]
        best = env._goal_option_values(product)
        cases.append((task_id, goal_query(goal["instruction_text"]), goal["asin"], list(best.values())))
        results = env.engine.results(" ".join(goal_query(goal["instruction_text"]).lower().split()))
        other = next(a for a in results[10:] if a != goal["asin"])
        opts = [vals[-1] for vals in env.catalog.by_asin[other]["options"].values()]
        cases.append((task_id, goal_query(goal["instruction_text"]), other, opts))
    rewards = []
    for task_id, query, asin, options in cases:
        web_reward, page_no = shop_over_http(client, task_id, query, asin, options)
        text_reward = shop_in_text_mode(env, task_id, query, asin, options, page_no - 1)
        assert web_reward == pytest.approx(text_reward), (task_id, asin, options)
        rewards.append(web_reward)
    assert rewards[0] == 1.0 and rewards[2] == 1.0 and min(rewards) < 1.0


def test_results_paging_and_sub_pages(client):
    r = client.get("/webshop-00000/search", params={"keywords": "Dog Bed"})
    assert "Page 1 (Total results: 50)" in r.text and str(r.url).endswith("/results?q=dog+bed&page=1")
    buttons = _links(r.text, "btn")
    assert set(buttons) == {"back to search", "next >"}
    r = client.get(buttons["next >"])
    assert "Page 2 (Total results: 50)" in r.text and set(_links(r.text, "btn")) >= {"< prev", "next >"}
    item = client.get(next(iter(_links(r.text, "product-link").values())))
    features = client.get(_links(item.text, "btn")["features"])
    assert features.status_code == 200 and "/Features?" in str(features.url)
    back = client.get(_links(features.text, "btn")["< prev"])
    assert str(back.url) == str(item.url)


def test_bad_addresses_get_404_and_buy_needs_post(client, site):
    assert client.get("/no-such-task/").status_code == 404
    assert client.get("/webshop-00000/item/B0NOTHERE0").status_code == 404
    assert client.get("/webshop-00000/results?q=x&page=abc").status_code == 404
    asin = next(iter(site.shop.catalog.by_asin))
    assert client.get(f"/webshop-00000/item/{asin}/buy").status_code == 404
    assert client.get("/static/img/fashion.svg").headers["content-type"].startswith("image/svg")


def test_cli_command_serves_the_site():
    proc = subprocess.Popen([sys.executable, "-m", "stepgym", "webshop-site", "--no-browser", "--task", "webshop-00003"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+/\S+)", line).group(1)
        r = httpx.get(url, timeout=10)
        assert r.status_code == 200 and "Instruction:" in r.text and "webshop-00003" in url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs a chromium executable")
def test_a_real_browser_can_shop(site, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    env = WebShopEnv()
    env.reset(seed=0, options={"task_id": "webshop-00000"})
    query = goal_query(env.goal["instruction_text"])
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(site.url_for("webshop-00000"))
        page.fill("#search_input", query)
        page.click("text=Search")
        while env.goal["asin"] not in page.inner_text("body"):
            page.click("text=Next >")
        page.click(f"text={env.goal['asin']}")
        for value in env._goal_option_values(env.catalog.by_asin[env.goal["asin"]]).values():
            page.click(f"a.option:text-is('{value}')")
        page.click("text=Buy Now")
        page.screenshot(path=str(tmp_path / "done.png"))
        assert page.inner_text("#reward") == "1.0"
        browser.close()
