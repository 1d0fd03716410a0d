"""`stepgym serve MODEL_DIR`: an OpenAI-compatible chat-completions server over the HF backend.

Endpoints: `GET /health`, `GET /v1/models`, `POST /v1/chat/completions` (text and `image_url`
data-URL parts; `temperature`, `top_p`, `top_k`, `max_tokens` / `max_completion_tokens`, `seed`,
`n`, `logprobs`, `top_logprobs`). Like vLLM's server it also accepts `return_token_ids` (adds
`prompt_token_ids` and per-choice `token_ids`) and `return_tokens_as_token_ids` (log-prob entries
named `token_id:N`), so RL clients get exact token ids. Requests are served one at a time: the
model is not thread-safe and a tiny CPU model gains nothing from interleaving.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from stepgym.agents.hf import HFPolicy, encode_messages
from stepgym.agents.prompting import PromptConfig, from_openai_messages
from stepgym.agents.sampling import GenerationSettings


def _choice_logprobs(policy: HFPolicy, token_ids: list[int], logprobs: list[float], top: int,
                     top_lists: list[list[tuple[int, float]]] | None, as_ids: bool) -> dict[str, Any]:
    def name(tid: int) -> str:
        return f"token_id:{tid}" if as_ids else policy.tokenizer.decode([tid])

    content = []
    for t, (tid, lp) in enumerate(zip(token_ids, logprobs, strict=True)):
        tok = name(tid)
        entry = {"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8")), "top_logprobs": []}
        if top and top_lists is not None:
            entry["top_logprobs"] = [{"token": name(i), "logprob": v, "bytes": list(name(i).encode("utf-8"))}
                                     for i, v in top_lists[t][:top]]
        content.append(entry)
    return {"content": content}


def _top_logprobs(policy: HFPolicy, prompt, token_ids: list[int], k: int) -> list[list[tuple[int, float]]]:
    """The k most likely tokens (and log-probs) at each generated position, by a teacher-forced pass."""
    import torch

    with torch.no_grad():
        model = policy.model
        from stepgym.agents.hf import collate, position_ids_for

        device = next(model.parameters()).device
        batch = collate([prompt.to(device)], policy.pad_id, [token_ids])
        batch["position_ids"] = position_ids_for(model, batch)
        logits = model(**batch, use_cache=False, logits_to_keep=len(token_ids) + 1).logits[0, :-1]
        values, idx = torch.log_softmax(logits.float(), -1).topk(k, dim=-1)
    return [list(zip(i.tolist(), v.tolist(), strict=True)) for i, v in zip(idx, values, strict=False)]


def create_app(policy: HFPolicy, model_name: str):
    """The FastAPI app serving `policy` under the model id `model_name`."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import JSONResponse

    app = FastAPI(title="stepgym serve")
    lock = threading.Lock()
    state = {"requests": 0}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "stepgym"}]}

    @app.post("/v1/chat/completions")
    def chat(body: dict[str, Any]):
        try:
            return _complete(body)
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc

    def _complete(body: dict[str, Any]) -> JSONResponse:
        if body.get("stream"):
            raise ValueError("stream=true is not supported by stepgym serve; send stream=false")
        if body.get("model") not in (None, model_name):
            raise ValueError(f"unknown model {body.get('model')!r}; this server serves {model_name!r}")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list of chat messages")
        n = int(body.get("n") or 1)
        if not 1 <= n <= 16:
            raise ValueError(f"n must be in [1, 16], got {n}")
        top = int(body.get("top_logprobs") or 0)
        if not 0 <= top <= 20:
            raise ValueError(f"top_logprobs must be in [0, 20], got {top}")
        settings = GenerationSettings(
            max_new_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens") or 64),
            temperature=float(body.get("temperature", 1.0) if body.get("temperature") is not None else 1.0),
            top_p=float(body.get("top_p") if body.get("top_p") is not None else 1.0),
            top_k=max(0, int(body.get("top_k") or 0)),
            seed=int(body["seed"]) if body.get("seed") is not None else None,
        )
        prompt = encode_messages(policy.processor, from_openai_messages(messages, policy.prompt))
        with lock:
            state["requests"] += 1
            # with a seed, the n samples are calls 0..n-1 of that seed: same request, same answer
            actions = policy.generate([prompt] * n, settings, call=0 if settings.seed is not None else None)
            tops = [_top_logprobs(policy, prompt, a.token_ids, top) if top and a.token_ids else None
                    for a in actions]
        choices = []
        for i, a in enumerate(actions):
            choice: dict[str, Any] = {
                "index": i, "message": {"role": "assistant", "content": a.text},
                "finish_reason": a.meta.get("finish_reason", "stop"), "logprobs": None,
            }
            if body.get("logprobs"):
                choice["logprobs"] = _choice_logprobs(policy, a.token_ids, a.logprobs, top, tops[i],
                                                      bool(body.get("return_tokens_as_token_ids")))
            if body.get("return_token_ids"):
                choice["token_ids"] = a.token_ids
            choices.append(choice)
        completion = sum(len(a.token_ids) for a in actions)
        out: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": model_name, "choices": choices,
            "usage": {"prompt_tokens": len(prompt.input_ids), "completion_tokens": completion,
                      "total_tokens": len(prompt.input_ids) + completion},
        }
        if body.get("return_token_ids"):
            out["prompt_token_ids"] = prompt.ids
        return JSONResponse(out)

    return app


def serve(model_dir: str, *, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None,
          prompt: PromptConfig | None = None, device: str | None = None, log_level: str = "warning") -> None:
    """Load `model_dir` offline and serve it until interrupted."""
    import uvicorn

    policy = HFPolicy(model_dir, prompt=prompt or PromptConfig(), device=device)
    name = model_name or model_dir.rstrip("/").split("/")[-1]
    print(f"stepgym serve: {name} on http://{host}:{port}/v1", flush=True)
    uvicorn.run(create_app(policy, name), host=host, port=port, log_level=log_level)


def cmd_serve(args) -> int:
    """`stepgym serve MODEL_DIR ...` (arguments from stepgym.cli)."""
    prompt = PromptConfig()
    if args.min_pixels is not None:
        prompt.min_pixels = args.min_pixels
    if args.max_pixels is not None:
        prompt.max_pixels = args.max_pixels
    prompt.__post_init__()  # re-validate the pixel bounds
    serve(args.model_dir, host=args.host, port=args.port, model_name=args.name, prompt=prompt,
          device=args.device)
    return 0
