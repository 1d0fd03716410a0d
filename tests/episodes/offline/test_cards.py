"""The protocol cards: complete, consistent with the code, and rendered in docs/offline-protocols.md."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stepgym.episodes.offline.cards import PROTOCOLS, all_cards, get_card, render_markdown

ROOT = Path(__file__).resolve().parents[3]


def test_docs_page_is_the_rendered_cards():
    assert (ROOT / "docs" / "offline-protocols.md").read_text(encoding="utf-8") == render_markdown(), \
        "regenerate it: python scripts/render_offline_cards.py"


def test_every_card_is_listed_and_complete():
    cards = all_cards()
    assert {(c.benchmark, c.protocol) for c in cards.values()} == {(b, p) for b, ps in PROTOCOLS.items() for p in ps}
    for card in cards.values():
        assert card.adapter is not None and card.adapter.benchmark == card.benchmark
        assert card.sources and card.rules and card.action_space and card.metrics
        # every metric the code reports is declared on the card, and nothing else
        names = {m.name.split(".")[0] for m in card.adapter.metrics(card.make_params())}
        assert names == set(card.metrics), card.name
        # every threshold is a documented parameter with a default
        for f in dataclasses.fields(card.params):
            assert f.default is not dataclasses.MISSING, (card.name, f.name)
            assert f"`{f.name}` = " in card.markdown()


def test_published_defaults():
    assert get_card("aitw").default_params()["tap_distance_threshold"] == 0.14
    assert get_card("aitw").default_params()["annotation_width_augment_fraction"] == 1.4
    assert get_card("androidcontrol", "osatlas").default_params()["click_distance"] == 140
    assert get_card("androidcontrol", "qwen").default_params()["bbox_enlarge"] == 1.2
    assert get_card("gui_odyssey").default_params()["text_anls_threshold"] == 0.5
    assert get_card("mind2web").default_params()["top_k"] == 50
    with pytest.raises(ValueError, match="has no protocol 'nope'; expected one of osatlas, qwen"):
        get_card("androidcontrol", "nope")
