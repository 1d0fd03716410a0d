"""Model policies from command-line specs: `hf:DIR`, `openai:URL[#MODEL]`, `vllm:DIR`, with `?options`."""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from urllib.parse import parse_qsl

from stepgym.agents.base import Policy
from stepgym.agents.prompting import PromptConfig
from stepgym.agents.sampling import GenerationSettings


def _convert(value: str, current: Any, key: str) -> Any:
    if isinstance(current, bool):
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(f"option {key}={value!r}: expected true/false")
        return value.lower() in ("1", "true", "yes")
    if value.lower() == "none":
        return None
    if isinstance(current, int) or key in ("seed", "history_len"):
        return int(value)
    if isinstance(current, float):
        return float(value)
    return value


def parse_options(text: str, seed: int | None) -> tuple[GenerationSettings, PromptConfig, dict[str, str]]:
    """(generation settings, prompt config, other options) from `key=value&...`."""
    gen_names = {f.name for f in fields(GenerationSettings)}
    prompt_names = {f.name for f in fields(PromptConfig)}
    gen, prompt, other = GenerationSettings(seed=seed), PromptConfig(), {}
    gen_kw: dict[str, Any] = {"seed": seed}
    prompt_kw: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key in gen_names:
            gen_kw[key] = _convert(value, getattr(gen, key), key)
        elif key in prompt_names:
            prompt_kw[key] = _convert(value, getattr(prompt, key), key)
        else:
            other[key] = value
    return GenerationSettings(**gen_kw), PromptConfig(**prompt_kw), other


def make_model_policy(spec: str, seed: int | None = 0) -> Policy:
    """The model-backed policy a spec names (see `stepgym.agents.make_policy`)."""
    kind, rest = spec.split(":", 1)
    options = ""
    if "?" in rest:
        rest, options = rest.rsplit("?", 1)
    gen, prompt, other = parse_options(options, seed)
    if kind == "hf":
        from stepgym.agents.hf import HFPolicy

        unknown = set(other) - {"device", "dtype"}
        if unknown:
            raise ValueError(f"unknown options for hf: {sorted(unknown)}; expected GenerationSettings / "
                             "PromptConfig fields, device or dtype")
        return HFPolicy(rest, config=gen, prompt=prompt, device=other.get("device"), dtype=other.get("dtype"))
    if kind == "openai":
        from stepgym.agents.openai_backend import HTTPSettings, OpenAIPolicy

        url, _, model = rest.partition("#")
        http = HTTPSettings()
        http_names = {f.name for f in fields(HTTPSettings)}
        http_kw = {}
        for key, value in other.items():
            if key not in http_names:
                raise ValueError(f"unknown option {key!r} for openai:; expected GenerationSettings / "
                                 f"PromptConfig / HTTPSettings fields ({sorted(http_names)})")
            http_kw[key] = _convert(value, getattr(http, key), key)
        return OpenAIPolicy(url, model or None, config=gen, prompt=prompt, http=HTTPSettings(**http_kw))
    if kind == "vllm":
        from stepgym.agents.vllm_backend import VLLMPolicy

        return VLLMPolicy(rest, config=gen, prompt=prompt, **other)
    raise ValueError(f"unknown policy kind {kind!r}; expected hf, openai or vllm")
