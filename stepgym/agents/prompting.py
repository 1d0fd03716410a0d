"""Chat messages in the Qwen-VL format from an `AgentInput`, with a history window and image budget.

Two history modes (`PromptConfig.history_mode`):

- ``"window"`` (as verl-agent does): every step gets a fresh two-message prompt — the system
  prompt, then one user message holding the instruction, the last K steps (observation text,
  action, error; at most M of their images) and the current observation.
- ``"conversation"``: the episode is one growing chat — a user turn per observation, an assistant
  turn per action; the last K steps are kept (all by default) and only the M most recent history
  images stay images (older ones become the text ``[image omitted]``). With
  `PromptConfig.token_exact` the chat only grows: each turn keeps the ids it was sampled with
  (`hf.HFPolicy` builds those prompts; see `turn_messages` here).

Images are `{"type": "image", "image": PIL.Image, "min_pixels": ..., "max_pixels": ...}` items,
so `qwen_vl_utils.process_vision_info` resizes them within the configured pixel budget.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from stepgym.agents.base import AgentInput

DEFAULT_SYSTEM_PROMPT = (
    "You are an agent acting in an environment, one action per turn.\n"
    "How to act:\n{action_doc}"
)
IMAGE_OMITTED = "[image omitted]"


@dataclass
class PromptConfig:
    """How observations and history become chat messages."""

    history_mode: Literal["window", "conversation"] = "window"
    """"window": one prompt per step with the last K steps; "conversation": one growing chat."""
    history_len: int | None = 3
    """K: how many previous steps to show (None: all of them)."""
    max_history_images: int = 1
    """M: at most this many images of previous steps (the most recent ones)."""
    include_image: bool = True
    """Show the current observation's image (when the env has one)."""
    min_pixels: int = 4 * 28 * 28
    """Smallest image area after qwen-vl-utils' smart resize (pixels)."""
    max_pixels: int = 256 * 28 * 28
    """Largest image area after smart resize: at most max_pixels / 784 vision tokens per image."""
    video_max_pixels: int = 64 * 28 * 28
    """Largest area of each video frame."""
    video_fps: float = 2.0
    """Frame rate the model is told the observation's `frames` were sampled at."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """System prompt; `{action_doc}` is replaced by the env's action grammar."""
    number_steps: bool = True
    """Write the step's number ("Current observation (step 3)"). False: with `history_len=0` a live
    step's prompt is then the prompt of the same step recorded alone (OfflineSteps-v0), where every
    step is step 1, so training on recorded steps sees the prompts the live env gives."""
    token_exact: bool = False
    """Conversation mode only: every turn stays as it was sampled. The prompt of step t is the
    prompt of step t-1, then the ids that step generated, then the new turn's ids, so no earlier
    action is re-tokenised from its text and the model is scored in the context it acted in.
    Needs `history_len=None` (a window would drop turns); history images stay images
    (`max_history_images` does not apply). Backends that hold token ids implement it (`HFPolicy`)."""

    def __post_init__(self) -> None:
        if self.history_mode not in ("window", "conversation"):
            raise ValueError(f"history_mode must be 'window' or 'conversation', got {self.history_mode!r}")
        if self.token_exact and (self.history_mode != "conversation" or self.history_len is not None):
            raise ValueError("token_exact needs history_mode='conversation' and history_len=None (every turn kept "
                             f"as sampled), got history_mode={self.history_mode!r}, history_len={self.history_len!r}")
        if self.history_len is not None and self.history_len < 0:
            raise ValueError(f"history_len must be >= 0 or None, got {self.history_len}")
        if self.max_history_images < 0:
            raise ValueError(f"max_history_images must be >= 0, got {self.max_history_images}")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}")


def to_pil(image: Any):
    """A PIL RGB image from an HxWx3 uint8 array (or a PIL image)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image array, got shape {arr.shape}")
    return Image.fromarray(arr.astype(np.uint8, copy=False))


def _image_item(image: Any, cfg: PromptConfig) -> dict[str, Any]:
    return {"type": "image", "image": to_pil(image), "min_pixels": cfg.min_pixels, "max_pixels": cfg.max_pixels}


def _observation_items(obs: dict[str, Any], cfg: PromptConfig,
                       info: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Vision items of the current observation: its image, or its video (decoded frames, or the
    file when the observation has no "frames" at all).

    With `info["frame_timestamps"]` the frames' times are written out before the video and their
    mean spacing sets the sampled fps (hence Qwen2.5-VL's absolute-time positions).
    """
    items: list[dict[str, Any]] = []
    if cfg.include_image and obs.get("image") is not None:
        items.append(_image_item(obs["image"], cfg))
    frames = obs.get("frames")
    if frames is not None and len(frames) > 0:
        pil = [to_pil(f) for f in frames]
        fps = cfg.video_fps
        times = (info or {}).get("frame_timestamps")
        if isinstance(times, (list, tuple)) and len(times) == len(pil):
            items.append(_text("Frame times (s): " + ", ".join(f"{float(t):.1f}" for t in times) + "\n"))
            if len(times) > 1 and float(times[-1]) > float(times[0]):
                fps = (len(times) - 1) / (float(times[-1]) - float(times[0]))
        if len(pil) % 2:  # Qwen's temporal patch takes frames in pairs
            pil.append(pil[-1])
        items.append({"type": "video", "video": pil, "sample_fps": fps,
                      "min_pixels": cfg.min_pixels, "max_pixels": cfg.video_max_pixels})
    elif frames is None and isinstance(obs.get("video"), str) and obs["video"]:
        # only an observation without a "frames" entry shows its file: empty frames mean none are
        # shown (VideoSearch before its first frames(...) call), never the whole video
        items.append({"type": "video", "video": obs["video"], "fps": cfg.video_fps,
                      "min_pixels": cfg.min_pixels, "max_pixels": cfg.video_max_pixels})
    return items


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _shown_steps(inp: AgentInput, cfg: PromptConfig) -> tuple[int, set[int]]:
    """Index of the first history step shown, and the indices whose images are shown."""
    n = len(inp.history)
    first = 0 if cfg.history_len is None else max(0, n - cfg.history_len)
    with_image = [i for i in range(first, n)
                  if i < len(inp.history_images) and inp.history_images[i] is not None]
    keep = set(with_image[len(with_image) - cfg.max_history_images:]) if cfg.max_history_images else set()
    return first, keep


def _action_line(step) -> str:
    line = f"Action: {step.action}"
    if not step.action_valid:
        line += f"\n(invalid: {step.action_error})"
    return line


def system_message(inp: AgentInput, cfg: PromptConfig) -> dict[str, Any]:
    """The system message: the configured prompt with the env's action grammar filled in."""
    return {"role": "system", "content": cfg.system_prompt.replace("{action_doc}", inp.action_doc.strip())}


def window_messages(inp: AgentInput, cfg: PromptConfig) -> list[dict[str, Any]]:
    """[system, user]: instruction, the last K steps (≤ M images), the current observation."""
    first, keep = _shown_steps(inp, cfg)
    content: list[dict[str, Any]] = [_text(f"Task: {inp.instruction}\n")]
    n = len(inp.history)
    if n > first:
        content.append(_text(f"Previous steps ({n - first} of {n}):\n"))
        for i in range(first, n):
            step = inp.history[i]
            content.append(_text(f"Step {i + 1} observation:\n{step.observation}\n"))
            if i in keep:
                content.append(_image_item(inp.history_images[i], cfg))
            content.append(_text(_action_line(step) + "\n"))
    numbered = f" (step {n + 1})" if cfg.number_steps else ""
    content.append(_text(f"Current observation{numbered}:\n{inp.observation.get('text', '')}\n"))
    content.extend(_observation_items(inp.observation, cfg, inp.info))
    content.append(_text("Your next action:"))
    return [system_message(inp, cfg), {"role": "user", "content": content}]


def conversation_messages(inp: AgentInput, cfg: PromptConfig) -> list[dict[str, Any]]:
    """[system, user, assistant, user, ...]: one turn pair per step, the current observation last."""
    first, keep = _shown_steps(inp, cfg)
    msgs = [system_message(inp, cfg)]
    head = f"Task: {inp.instruction}\n"
    if first > 0:
        head += f"({first} earlier steps not shown)\n"
    for i in range(first, len(inp.history)):
        step = inp.history[i]
        content = [_text(head + f"Observation (step {i + 1}):\n{step.observation}\n")] if head else \
            [_text(f"Observation (step {i + 1}):\n{step.observation}\n")]
        head = ""
        has_image = i < len(inp.history_images) and inp.history_images[i] is not None
        if i in keep:
            content.append(_image_item(inp.history_images[i], cfg))
        elif has_image:
            content.append(_text(IMAGE_OMITTED))
        msgs.append({"role": "user", "content": content})
        msgs.append({"role": "assistant", "content": step.action})
    msgs.append(_current_turn(inp, cfg, head))
    return msgs


def _current_turn(inp: AgentInput, cfg: PromptConfig, head: str) -> dict[str, Any]:
    """The user turn of the current observation, after `head` (the task line on a chat's first turn)."""
    content = [_text(head + f"Observation (step {len(inp.history) + 1}):\n{inp.observation.get('text', '')}\n")]
    content.extend(_observation_items(inp.observation, cfg, inp.info))
    return {"role": "user", "content": content}


def turn_messages(inp: AgentInput, cfg: PromptConfig) -> list[dict[str, Any]]:
    """The messages the current step adds to a conversation: [system, user] for the first step,
    [user] after that (the observation as `conversation_messages` shows its last turn)."""
    if inp.history:
        return [_current_turn(inp, cfg, "")]
    return [system_message(inp, cfg), _current_turn(inp, cfg, f"Task: {inp.instruction}\n")]


def build_messages(inp: AgentInput, cfg: PromptConfig | None = None) -> list[dict[str, Any]]:
    """The chat messages (Qwen-VL format) for one agent input under `cfg`'s history mode."""
    cfg = cfg or PromptConfig()
    if cfg.history_mode == "window":
        return window_messages(inp, cfg)
    return conversation_messages(inp, cfg)


def vision_inputs(messages: list[dict[str, Any]]) -> tuple[list | None, list | None, dict[str, Any]]:
    """(images, videos, video_kwargs) of `messages`, resized by qwen-vl-utils within their budgets.

    `video_kwargs` holds `video_metadata` (one dict per video: source fps, sampled frame indices,
    frame count) and `do_sample_frames=False`, which transformers 5's Qwen processors take to
    derive each video's sampled fps (hence its temporal positions) without re-sampling frames.
    """
    from qwen_vl_utils import process_vision_info

    has_vision = any(isinstance(m["content"], list) and any(c.get("type") in ("image", "video", "image_url")
                                                            for c in m["content"]) for m in messages)
    if not has_vision:
        return None, None, {}
    images, videos, _ = process_vision_info(messages, return_video_kwargs=True, return_video_metadata=True)
    if not videos:
        return images, None, {}
    frames = [v for v, _ in videos]
    metadata = [dict(m) for _, m in videos]
    return images, frames, {"video_metadata": metadata, "do_sample_frames": False}


def sampled_fps(metadata: dict[str, Any]) -> float:
    """Frames per second of a video's sampled frames, from qwen-vl-utils' metadata."""
    fps, idx, total = metadata.get("fps"), metadata.get("frames_indices"), metadata.get("total_num_frames")
    if not fps:
        return 2.0
    if idx is None or not total:
        return float(fps)
    return len(idx) / float(total) * float(fps)


# ---- OpenAI wire format ---------------------------------------------------------------------------

def image_data_url(image: Any) -> str:
    """A `data:image/png;base64,...` URL of an image (lossless, so a server sees the same pixels)."""
    buf = io.BytesIO()
    to_pil(image).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def to_openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Qwen-VL messages as OpenAI chat messages: images become `image_url` data URLs.

    Videos are sent as their frames (one `image_url` each), which every OpenAI-compatible server
    accepts; pixel budgets are the server's business.
    """
    out = []
    for m in messages:
        if isinstance(m["content"], str):
            out.append({"role": m["role"], "content": m["content"]})
            continue
        parts = []
        for c in m["content"]:
            if c.get("type") == "image":
                parts.append({"type": "image_url", "image_url": {"url": image_data_url(c["image"])}})
            elif c.get("type") == "video":
                frames = c["video"] if isinstance(c["video"], list) else []
                parts.extend({"type": "image_url", "image_url": {"url": image_data_url(f)}} for f in frames)
            else:
                parts.append({"type": "text", "text": c["text"]})
        out.append({"role": m["role"], "content": parts})
    return out


def from_openai_messages(messages: list[dict[str, Any]], cfg: PromptConfig) -> list[dict[str, Any]]:
    """OpenAI chat messages as Qwen-VL messages (data/file URLs become image items within `cfg`'s budget)."""
    out = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role not in ("system", "user", "assistant", "tool"):
            raise ValueError(f"message role must be system/user/assistant/tool, got {role!r}")
        if content is None or isinstance(content, str):
            out.append({"role": role, "content": content or ""})
            continue
        if not isinstance(content, list):
            raise ValueError(f"message content must be a string or a list of parts, got {type(content).__name__}")
        parts = []
        for c in content:
            kind = c.get("type")
            if kind == "text":
                parts.append(_text(str(c.get("text", ""))))
            elif kind == "image_url":
                url = c["image_url"]["url"] if isinstance(c.get("image_url"), dict) else c.get("image_url")
                if not isinstance(url, str) or not url.startswith(("data:image", "file://")):
                    raise ValueError("image_url must be a data:image/...;base64 URL or a file:// path "
                                     f"(this server fetches nothing remote), got {str(url)[:40]!r}")
                parts.append({"type": "image", "image": url, "min_pixels": cfg.min_pixels,
                              "max_pixels": cfg.max_pixels})
            else:
                raise ValueError(f"unsupported content part type {kind!r}; expected 'text' or 'image_url'")
        out.append({"role": role, "content": parts})
    return out
