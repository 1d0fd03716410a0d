"""Reward and success functions: pure functions of their inputs, no env state.

Import them from their modules, e.g. `from stepgym.rewards.webshop import webshop_reward`.
"""
