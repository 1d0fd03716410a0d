"""OpenAI-compatible HTTP backend: chat completions against vLLM's, SGLang's or `stepgym serve`'s server.

Images travel as PNG data URLs. Requests for a batch go out concurrently; each has a timeout and
is retried with exponential backoff on connection errors, timeouts, 429 and 5xx. Log-probs are
returned when the server gives them; token ids when the server supports vLLM's
`return_token_ids` / `return_tokens_as_token_ids` extensions (`request_token_ids=True`).
With `top_logprobs=k` each action's meta gets `entropy`: the mean over its first 20 tokens of
-sum p log p over the k alternatives the server lists (ARPO asks for 10; a lower bound of the
full distribution's entropy), and `entropy_norm` (that over log|V|) when `vocab_size` is set.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from stepgym.agents.base import AgentAction, AgentInput, Policy
from stepgym.agents.prompting import PromptConfig, build_messages, to_openai_messages
from stepgym.agents.sampling import GenerationSettings


class BackendError(RuntimeError):
    """The server refused a request or stayed unreachable after all retries."""


@dataclass
class HTTPSettings:
    """Transport settings of the OpenAI-compatible client."""

    timeout_s: float = 120.0
    """Per-request timeout (connect + read)."""
    max_retries: int = 4
    """Retries after the first try, on connection errors, timeouts, 429 and 5xx."""
    backoff_s: float = 0.5
    """First retry waits this long; each next one waits twice as long."""
    concurrency: int = 8
    """Requests in flight at once for one batch."""
    request_token_ids: bool = False
    """Ask for token ids (vLLM / stepgym serve extensions; plain OpenAI rejects them)."""
    logprobs: bool = True
    """Ask for the sampled tokens' log-probs."""
    top_logprobs: int = 0
    """Alternatives per token to ask for (0-20; needs `logprobs`); with them actions carry `entropy`."""
    vocab_size: int | None = None
    """The served model's vocabulary size, for `entropy_norm` (entropy / log|V|)."""


ENTROPY_TOKENS = 20  # as stepgym.agents.hf: the first 20 generated tokens


def topk_entropy(entries: list[dict[str, Any]], tokens: int = ENTROPY_TOKENS) -> float | None:
    """Mean over the first `tokens` tokens of -sum p log p over each token's listed alternatives
    (`top_logprobs` of a chat-completions reply); None when the reply lists none."""
    per_token = []
    for e in entries[:tokens]:
        tops = [float(t["logprob"]) for t in e.get("top_logprobs") or [] if t.get("logprob") is not None]
        if tops:
            per_token.append(-sum(math.exp(lp) * lp for lp in tops if math.isfinite(lp)))
    return sum(per_token) / len(per_token) if per_token else None


def normalize_base_url(url: str) -> str:
    """`url` without a trailing slash, with `/v1` appended when it has no path."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"expected an http(s) URL like http://127.0.0.1:8000/v1, got {url!r}")
    url = url.rstrip("/")
    return url + "/v1" if parsed.path in ("", "/") else url


def _token_id(entry: dict[str, Any]) -> int | None:
    tok = entry.get("token", "")
    if isinstance(tok, str) and tok.startswith("token_id:"):
        return int(tok.split(":", 1)[1])
    return None


class OpenAIPolicy(Policy):
    """A policy served over HTTP by any OpenAI-compatible chat-completions server."""

    name = "openai"

    def __init__(self, base_url: str, model: str | None = None, config: GenerationSettings | None = None,
                 prompt: PromptConfig | None = None, http: HTTPSettings | None = None,
                 api_key: str | None = None) -> None:
        import httpx

        self.base_url = normalize_base_url(base_url)
        self.config = config or GenerationSettings()
        self.prompt = prompt or PromptConfig()
        if self.prompt.token_exact:
            raise ValueError("OpenAIPolicy renders each chat from text, so it cannot keep earlier turns token-exact "
                             "(PromptConfig.token_exact); use HFPolicy, or the trainer's vLLM rollout engine")
        self.http = http or HTTPSettings()
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "EMPTY")
        self._client = httpx.Client(timeout=self.http.timeout_s, headers={"Authorization": f"Bearer {key}"})
        self._calls = 0
        self.model = model or self._first_model()

    def _first_model(self) -> str:
        data = self._request("GET", "/models")
        models = [m.get("id") for m in data.get("data", []) if m.get("id")]
        if not models:
            raise BackendError(f"{self.base_url}/models lists no model; name one as openai:URL#MODEL")
        return models[0]

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON reply of one request, retried with exponential backoff on transient failures."""
        import httpx

        url = self.base_url + path
        last = ""
        for attempt in range(self.http.max_retries + 1):
            if attempt:
                time.sleep(self.http.backoff_s * 2 ** (attempt - 1))
            try:
                resp = self._client.request(method, url, json=body)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                continue
            if resp.status_code >= 400:
                raise BackendError(f"{method} {url} was refused with HTTP {resp.status_code}: {resp.text[:300]}")
            return resp.json()
        raise BackendError(f"{method} {url} failed after {self.http.max_retries + 1} tries; last error: {last}")

    def request_body(self, messages: list[dict[str, Any]], seed: int | None) -> dict[str, Any]:
        """The chat-completions request for one chat (Qwen-VL messages)."""
        s = self.config
        body: dict[str, Any] = {
            "model": self.model, "messages": to_openai_messages(messages),
            "max_tokens": s.max_new_tokens, "temperature": s.temperature, "top_p": s.top_p,
        }
        if s.top_k:
            body["top_k"] = s.top_k
        if seed is not None:
            body["seed"] = seed
        if self.http.logprobs:
            body["logprobs"] = True
            if self.http.top_logprobs:
                body["top_logprobs"] = self.http.top_logprobs
        if self.http.request_token_ids:
            body["return_token_ids"] = True
            body["return_tokens_as_token_ids"] = True
        return body

    def _parse(self, reply: dict[str, Any]) -> AgentAction:
        try:
            choice = reply["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"malformed chat-completions reply (no choices[0].message): {str(reply)[:200]}") from exc
        entries = ((choice.get("logprobs") or {}).get("content")) or []
        logprobs = [float(e["logprob"]) for e in entries] or None
        token_ids = choice.get("token_ids")
        if token_ids is None and entries and all(_token_id(e) is not None for e in entries):
            token_ids = [_token_id(e) for e in entries]
        meta = {"backend": "openai", "model": reply.get("model", self.model),
                "finish_reason": choice.get("finish_reason"), **asdict(self.config)}
        entropy = topk_entropy(entries)
        if entropy is not None:
            meta["entropy"] = entropy
            if self.http.vocab_size:
                meta["entropy_norm"] = entropy / math.log(self.http.vocab_size)
        return AgentAction(text=text, token_ids=token_ids, logprobs=logprobs,
                           prompt_ids=reply.get("prompt_token_ids"), meta=meta)

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        """One completion per input, requested concurrently."""
        if not inputs:
            return []
        call = self._calls
        self._calls += 1
        bodies = []
        for i, inp in enumerate(inputs):
            seed = None if self.config.seed is None else (self.config.seed * 1_000_003 + call * 997 + i) % (2**31)
            bodies.append(self.request_body(build_messages(inp, self.prompt), seed))
        with ThreadPoolExecutor(max_workers=max(1, min(self.http.concurrency, len(bodies)))) as pool:
            replies = list(pool.map(lambda b: self._request("POST", "/chat/completions", b), bodies))
        return [self._parse(r) for r in replies]

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "base_url": self.base_url,
                "sampling": asdict(self.config),
                "prompt": {k: v for k, v in asdict(self.prompt).items() if k != "system_prompt"}}

    def close(self) -> None:
        self._client.close()
