"""Three renderings of one `Page`: WebShop's `text` and `text_rich` observations, and HTML for the site."""

from __future__ import annotations

import html as _html
import json
from collections.abc import Container
from dataclasses import replace
from urllib.parse import quote

from stepgym.envs.webshop.engine import Page, WebShopEngine

OBSERVATION_MODES = ("text", "text_rich")


def render_text(page: Page) -> str:
    """WebShop's `text` mode: the page's visible strings joined by ` [SEP] `."""
    return " [SEP] ".join(el.text for el in page.elements)


def render_text_rich(page: Page, visited: Container[str] = ()) -> str:
    """WebShop's `text_rich` mode: one string per line, clickables as `[button] x [button_]`.

    Chosen options and visited products show as `[clicked button] x [clicked button_]`,
    and each chosen option adds a leading `You have clicked x.` line, as in WebShop.
    """
    lines: list[str] = []
    prefix: list[str] = []
    for el in page.elements:
        if el.kind in ("button", "search"):
            lines.append(f"[button] {el.text} [button_]")
        elif el.kind == "option":
            if el.selected:
                lines.append(f"  [clicked button] {el.text} [clicked button_]")
                prefix.insert(0, f"You have clicked {el.text}.")
            else:
                lines.append(f"  [button] {el.text} [button_]")
        elif el.kind == "product":
            tag = "clicked button" if el.text in visited else "button"
            lines.append(f"\n[{tag}] {el.text} [{tag}_]")
        else:
            lines.append(el.text)
    return "\n".join(prefix + lines)


_CSS = """
body{font-family:system-ui,Arial,sans-serif;margin:0;background:#f6f6f6;color:#222}
.top{background:#232f3e;color:#fff;padding:10px 24px;display:flex;gap:16px;align-items:center}
.top h1{font-size:22px;margin:0}.wrap{padding:16px 24px;max-width:1100px}
.instruction{background:#fff8e1;border:1px solid #f0d48a;padding:8px 12px;margin-bottom:12px}
.btn{display:inline-block;padding:6px 14px;margin:3px;border:1px solid #888;border-radius:4px;
background:#fff;color:#0f1111;text-decoration:none;cursor:pointer;font-size:14px}
.btn-buy{background:#ffa41c;border-color:#c45500;font-weight:bold;font-size:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px;margin-top:12px}
.card{background:#fff;border:1px solid #ddd;padding:10px}.card img,.item img{width:100%;max-width:220px}
.price{color:#b12704;font-weight:bold}.option{border-radius:16px}.option.selected{background:#232f3e;color:#fff}
.detail .title{font-size:22px;font-weight:bold}.item{display:flex;gap:24px;background:#fff;padding:16px}.detail p{margin:4px 0}
form{display:inline}input[type=text]{width:420px;padding:8px;font-size:15px}
"""


def _img(src: object) -> str:
    if not src:
        return ""
    return f'<img src="{_html.escape(str(src))}" alt="">'


def render_html(page: Page, session: str, engine: WebShopEngine) -> str:
    """The page as an HTML document whose links and forms lead to each clickable's target state."""
    e = _html.escape
    s = page.state
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>WebShop</title><style>{_CSS}</style>"
             "</head><body><div class='top'><h1>WebShop</h1></div><div class='wrap'>",
             f"<div class='instruction' id='instruction-text'>Instruction: {e(page.instruction)}</div>"]

    def link(el, extra: str = "") -> str:
        cls = "btn" + (" option" if el.kind == "option" else "") + (" selected" if el.selected else "") + extra
        return f'<a class="{cls}" href="{e(engine.url(session, el.target))}">{e(el.text)}</a>'

    if s.page == "search":
        parts.append(f"<form method='get' action='/{quote(session)}/search'>"
                     "<input type='text' id='search_input' name='keywords' placeholder='Search products'> "
                     "<button class='btn' type='submit'>Search</button></form>")
    elif s.page == "done":
        parts.append(f"<h2>Thank you for shopping with us!</h2><p>Purchased <b id='asin'>{e(s.asin)}</b> "
                     f"with options <code id='options'>{e(json.dumps(dict(s.options)))}</code></p>"
                     f"<p>Your score (min 0.0, max 1.0): <b id='reward'>{page.reward}</b></p>"
                     f"<a class='btn' href='/{quote(session)}/'>Back to Search</a>")
    else:
        buttons = [el for el in page.elements if el.kind == "button" and not el.buy and el.text not in
                   ("Description", "Features", "Reviews", "Attributes")]
        parts.append("<div>" + "".join(link(el) for el in buttons) + "</div>")
        if s.page == "results":
            count = next(el.text for el in page.elements if el.css == "count")
            parts.append(f"<p>{e(count)}</p><div class='grid'>")
            products = [el for el in page.elements if el.kind == "product"]
            for el, p in zip(products, page.products, strict=True):
                parts.append(f"<div class='card'>{_img(p.get('MainImage'))}"
                             f"<div><a class='product-link' href='{e(engine.url(session, el.target))}'>{e(el.text)}</a></div>"
                             f"<div class='title'>{e(p['Title'])}</div><div class='price'>{e(p['Price'])}</div></div>")
            parts.append("</div>")
        else:
            product = engine.catalog.by_asin[s.asin]
            left = [_img(product.get("MainImage"))]
            for el in page.elements:
                if el.kind == "heading":
                    left.append(f"<h4>{e(el.text)}</h4>")
                elif el.kind == "option":
                    left.append(link(el))
            texts = [el for el in page.elements if el.kind == "text"][2:]  # after "Instruction:", its text
            right = [f"<p class='{el.css}'>{e(el.text)}</p>" for el in texts]
            subs = [el for el in page.elements if el.kind == "button" and el.text in
                    ("Description", "Features", "Reviews", "Attributes")]
            right.append("<div>" + "".join(link(el) for el in subs) + "</div>")
            if s.page == "item":
                buy_url = engine.url(session, replace(s, page="done"))
                right.append(f"<form method='post' action='{e(buy_url)}'>"
                             "<button class='btn btn-buy' type='submit'>Buy Now</button></form>")
            parts.append(f"<div class='item'><div>{''.join(left)}</div><div class='detail'>{''.join(right)}</div></div>")
    parts.append("</div></body></html>")
    return "".join(parts)


def placeholder_svg(label: str) -> str:
    """A small SVG picture standing in for a product photo (the catalog ships no images)."""
    hue = sum(map(ord, label)) * 37 % 360
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='220' height='160'>"
            f"<rect width='220' height='160' fill='hsl({hue},45%,80%)'/>"
            f"<text x='110' y='88' font-size='20' text-anchor='middle' font-family='sans-serif'>"
            f"{_html.escape(label)}</text></svg>")
