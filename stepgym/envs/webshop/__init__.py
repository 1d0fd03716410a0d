"""WebShop: a web-shopping environment with a synthetic (or the original) catalog, BM25 search and a real site."""

from stepgym.envs.webshop.env import WebShopEnv, load_shop

__all__ = ["WebShopEnv", "load_shop"]
