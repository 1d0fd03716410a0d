"""Video I/O: decord first, PyAV as fallback, frame folders; sampling by count or fps, with timestamps.

    reader = open_video("clip.mp4")                 # decord when importable, else PyAV
    reader = open_video("frames_fps3_hq/clip", fps=3.0)   # a folder of frame images (below)
    idx = sample_indices(reader.meta, nframes=8)     # or sample_fps=2.0, start=/end= in seconds
    frames = reader.get_frames(idx)                  # [T, H, W, 3] uint8, random access
    ts = reader.meta.timestamps(idx)                 # seconds

Random access seeks to the nearest key frame before each requested frame and decodes from
there, so reading 8 frames of a long video never decodes the whole file.

Frame folders: some benchmarks release videos as extracted frames (MVBench's episodic_reasoning
task: `tvqa/frames_fps3_hq/<clip>/00001.jpg ...` at 3 fps). A folder reads through the same
`VideoReader`: the n-th image in natural name order (`2.jpg` before `10.jpg`) is frame n-1, at
(n-1)/fps seconds, `fps` being the rate the benchmark declares. (MVBench's own reader numbers its
files from 1 and maps time t to file round(t·fps), so it puts 00001.jpg at 1/fps: one frame
later than here.) Images of another size than the first are resized to it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Backend = Literal["auto", "decord", "pyav", "frames"]
BACKENDS = ("auto", "decord", "pyav", "frames")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP"}


class VideoError(RuntimeError):
    """A video file that cannot be opened or decoded (names the file and the backend)."""


@dataclass(frozen=True)
class VideoMeta:
    """What a reader knows about a file: frame count, frame rate, size (after any resize)."""

    path: str
    num_frames: int
    fps: float
    height: int
    width: int

    @property
    def duration(self) -> float:
        """Seconds covered by the frames (num_frames / fps)."""
        return self.num_frames / self.fps

    def timestamps(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Presentation time in seconds of each frame index (index / fps)."""
        return np.asarray(indices, dtype=np.float64) / self.fps


def _target_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """(h, w) scaled so the longer side is at most `max_side` (even numbers, aspect kept)."""
    if not max_side or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(2, int(round(height * scale / 2)) * 2), max(2, int(round(width * scale / 2)) * 2)


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Frames [T,H,W,3] uint8 resized to [T,height,width,3] (bilinear, PIL)."""
    from PIL import Image

    out = np.empty((len(frames), height, width, 3), np.uint8)
    for i, f in enumerate(frames):
        out[i] = np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR))
    return out


def sample_indices(
    meta: VideoMeta,
    *,
    nframes: int | None = None,
    sample_fps: float | None = None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
) -> np.ndarray:
    """Frame indices to read: `nframes` evenly spread, or one every 1/`sample_fps` seconds.

    `start`/`end` (seconds) restrict to a clip. Each index is the centre of its slice of the
    clip, so 1 frame of a clip is its middle frame. `max_frames` caps fps-based sampling
    (evenly thinned). Exactly one of `nframes`, `sample_fps` must be given.
    """
    if (nframes is None) == (sample_fps is None):
        raise ValueError(f"give exactly one of nframes or sample_fps, got nframes={nframes!r}, sample_fps={sample_fps!r}")
    t0 = 0.0 if start is None else max(0.0, float(start))
    t1 = meta.duration if end is None else min(meta.duration, float(end))
    if t1 < t0:
        raise ValueError(f"clip end {end!r} is before its start {start!r} (video {meta.path!r} lasts {meta.duration:.2f}s)")
    first = min(int(math.floor(t0 * meta.fps)), meta.num_frames - 1)
    last = max(first, min(int(math.ceil(t1 * meta.fps)) - 1, meta.num_frames - 1))
    span = last - first + 1
    if nframes is not None:
        if int(nframes) < 1:
            raise ValueError(f"nframes must be >= 1, got {nframes!r}")
        n = int(nframes)
    else:
        if not sample_fps or sample_fps <= 0:
            raise ValueError(f"sample_fps must be > 0, got {sample_fps!r}")
        n = max(1, int(round(span / meta.fps * float(sample_fps))))
        if max_frames is not None:
            n = min(n, int(max_frames))
    # centre of each of n equal slices of [first, last + 1)
    idx = first + (np.arange(n) + 0.5) * span / n
    return np.clip(np.floor(idx).astype(np.int64), first, last)


class VideoReader:
    """Random-access reader of one file or frame folder; `backend` is decord, pyav, frames or auto.

    auto: a folder reads as frames (it needs `fps`, the frame rate the data declares), a file with
    decord when importable, else PyAV. `max_side` downsizes frames on decode (longer side, aspect kept).
    """

    def __init__(self, path: str | os.PathLike, backend: Backend = "auto", max_side: int | None = None,
                 fps: float | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.path = str(path)
        is_folder = Path(self.path).is_dir()
        if backend == "auto":
            backend = "frames" if is_folder else "decord" if _has_decord() else "pyav"
        if backend == "frames":
            self._impl = _FrameFolderImpl(self.path, fps, max_side)
        elif not Path(self.path).is_file():
            kind = "is a folder: pass fps= to read it as frames" if is_folder else "does not exist"
            raise FileNotFoundError(f"video file {self.path!r} {kind}")
        else:
            self._impl = _DecordImpl(self.path, max_side) if backend == "decord" else _PyAVImpl(self.path, max_side)
        self.backend = backend
        self.max_side = max_side
        self.meta: VideoMeta = self._impl.meta

    def __len__(self) -> int:
        return self.meta.num_frames

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames at `indices` (any order, repeats allowed) as a [T, H, W, 3] uint8 array."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        bad = idx[(idx < 0) | (idx >= self.meta.num_frames)]
        if bad.size:
            raise IndexError(f"frame index {int(bad[0])} out of range for {self.path!r} ({self.meta.num_frames} frames)")
        if idx.size == 0:
            return np.zeros((0, self.meta.height, self.meta.width, 3), np.uint8)
        return self._impl.get(idx)

    def sample(self, **kwargs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(frames [T,H,W,3], timestamps [T] seconds, indices [T]) for `sample_indices(**kwargs)`."""
        idx = sample_indices(self.meta, **kwargs)
        return self.get_frames(idx), self.meta.timestamps(idx), idx

    def close(self) -> None:
        self._impl.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_video(path: str | os.PathLike, backend: Backend = "auto", max_side: int | None = None,
               fps: float | None = None) -> VideoReader:
    """A `VideoReader` for `path`: a frame folder at `fps`, or a file with decord (PyAV when decord
    fails to open it) under backend="auto"."""
    if backend != "auto" or Path(path).is_dir():
        return VideoReader(path, backend, max_side, fps)
    if _has_decord():
        try:
            return VideoReader(path, "decord", max_side)
        except FileNotFoundError:
            raise
        except Exception:  # noqa: BLE001 - decord rejects some containers PyAV can read
            pass
    return VideoReader(path, "pyav", max_side)


def read_frames(path: str | os.PathLike, *, backend: Backend = "auto", max_side: int | None = None,
                fps: float | None = None, **sampling) -> tuple[np.ndarray, np.ndarray]:
    """(frames [T,H,W,3] uint8, timestamps [T]) of `path` sampled with `sample_indices(**sampling)`
    (`fps`: the frame rate of a frame folder)."""
    with open_video(path, backend, max_side, fps) as reader:
        frames, ts, _ = reader.sample(**sampling)
    return frames, ts


def write_video(path: str | os.PathLike, frames: np.ndarray | Sequence[np.ndarray], fps: float,
                crf: int = 23, codec: str = "libx264", gop: int | None = None) -> Path:
    """Encode frames ([T,H,W,3] uint8, even H and W) to an H.264 mp4 with PyAV; returns the path.

    `gop` is the key-frame interval (default: one key frame every 2 seconds). One encoder thread
    and explicit timestamps make most files byte-for-byte reproducible; libx264 may still vary the
    bytes of clips with motion between runs (the decoded content differs by compression noise only).
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = list(frames)
    if not frames:
        raise ValueError(f"write_video({str(path)!r}): no frames to write")
    h, w = frames[0].shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"H.264 needs even frame sizes, got {h}x{w} for {str(path)!r}")
    tmp = path.with_name(path.name + ".part.mp4")
    with av.open(str(tmp), mode="w") as container:
        from fractions import Fraction

        rate = Fraction(fps).limit_denominator(1000)
        stream = container.add_stream(codec, rate=rate)
        stream.time_base = 1 / rate
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium", "g": str(gop or max(1, int(round(2 * fps)))),
                          "x264-params": "threads=1:lookahead-threads=1"}
        # one encoder thread: x264's threaded motion search makes the bytes vary from run to run
        stream.codec_context.thread_count = 1
        for i, frame in enumerate(frames):
            if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
                raise ValueError(f"frame {i} is {frame.shape} {frame.dtype}; expected ({h}, {w}, 3) uint8")
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24").reformat(format="yuv420p")
            vf.pts = i  # explicit timestamps (in 1/fps units) keep the output byte-for-byte reproducible
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)  # never leave a half-written mp4 under the final name
    return path


def write_frame_folder(folder: str | os.PathLike, frames: np.ndarray | Sequence[np.ndarray], *,
                       first_number: int = 1, digits: int = 5, ext: str = ".jpg", quality: int = 95) -> Path:
    """Write frames as numbered images (`00001.jpg`, ... as MVBench's frame folders are); returns the folder.

    Files are written under a temporary name and renamed, so a crash never leaves a half image.
    """
    from PIL import Image

    if ext.lower() not in IMAGE_EXTENSIONS:
        raise ValueError(f"ext must be one of {IMAGE_EXTENSIONS}, got {ext!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame {i} is {frame.shape} {frame.dtype}; expected (H, W, 3) uint8")
        path = folder / f"{first_number + i:0{digits}d}{ext}"
        tmp = path.with_name(path.name + ".part")
        fmt = _IMAGE_FORMATS[ext.lower()]
        Image.fromarray(frame).save(tmp, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
        os.replace(tmp, path)
    return folder


# -- backends ------------------------------------------------------------------------------------
def _has_decord() -> bool:
    try:
        import decord  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken native build counts as missing
        return False
    return True


class _DecordImpl:
    def __init__(self, path: str, max_side: int | None) -> None:
        import decord

        try:
            self.vr = decord.VideoReader(path, ctx=decord.cpu(0))
            h, w = self.vr[0].shape[:2] if len(self.vr) else (0, 0)
        except decord.DECORDError as exc:
            raise VideoError(f"decord cannot open {path!r}: {str(exc).splitlines()[0]}") from exc
        if len(self.vr) == 0:
            raise VideoError(f"decord found no frames in {path!r}")
        # decord's own resize breaks on some sizes (buffer-size checks); resize with PIL instead
        self.th, self.tw = _target_size(h, w, max_side)
        self.meta = VideoMeta(path, len(self.vr), float(self.vr.get_avg_fps()), self.th, self.tw)

    def get(self, idx: np.ndarray) -> np.ndarray:
        # decord's get_batch wants sorted unique indices for efficient seeking; map back after
        uniq, inverse = np.unique(idx, return_inverse=True)
        batch = self.vr.get_batch(uniq.tolist()).asnumpy()
        if batch.shape[1:3] != (self.th, self.tw):
            batch = resize_frames(batch, self.th, self.tw)
        return np.ascontiguousarray(batch[inverse])

    def close(self) -> None:
        del self.vr


class _PyAVImpl:
    def __init__(self, path: str, max_side: int | None) -> None:
        import av

        try:
            self.container = av.open(path)
        except av.error.FFmpegError as exc:
            raise VideoError(f"PyAV cannot open {path!r}: {exc}") from exc
        if not self.container.streams.video:
            raise VideoError(f"{path!r} has no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        rate = self.stream.average_rate or self.stream.guessed_rate
        if not rate:
            raise VideoError(f"{path!r}: PyAV found no frame rate")
        self.fps = float(rate)
        self.tb = float(self.stream.time_base)
        self.start_pts = self.stream.start_time or 0
        n = int(self.stream.frames or 0)
        if n <= 0:  # some containers do not store a count: decode once to count
            n = sum(1 for _ in self.container.decode(self.stream))
            self.container.seek(0, stream=self.stream)
        h, w = self.stream.codec_context.height, self.stream.codec_context.width
        self.th, self.tw = _target_size(h, w, max_side)
        self.resize = (self.th, self.tw) != (h, w)
        self.meta = VideoMeta(path, n, self.fps, self.th, self.tw)
        self._next = None  # iterator of decoded frames after the last read, for sequential reads
        self._pos = -1  # index of the frame the iterator returned last

    def _index(self, frame) -> int:
        return int(round((frame.pts - self.start_pts) * self.tb * self.fps))

    def _to_array(self, frame) -> np.ndarray:
        arr = frame.to_ndarray(format="rgb24")
        return resize_frames(arr[None], self.th, self.tw)[0] if self.resize else arr

    def _seek(self, target: int) -> None:
        pts = self.start_pts + int(target / self.fps / self.tb)
        self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
        self._next = iter(self.container.decode(self.stream))
        self._pos = -1

    def get(self, idx: np.ndarray) -> np.ndarray:
        order = np.argsort(idx, kind="stable")
        out: list[np.ndarray | None] = [None] * len(idx)
        last = None
        for j in order:
            target = int(idx[j])
            if last is not None and last[0] == target:
                out[j] = last[1]
                continue
            # continue decoding forward when the target is close, otherwise seek to a key frame
            if self._next is None or target <= self._pos or target - self._pos > int(2 * self.fps) + 1:
                self._seek(target)
            found = None
            for frame in self._next:
                self._pos = self._index(frame)
                if self._pos >= target:
                    found = frame
                    break
            if found is None:
                raise VideoError(f"PyAV could not decode frame {target} of {self.meta.path!r}")
            arr = self._to_array(found)
            out[j] = arr
            last = (target, arr)
        return np.stack(out)

    def close(self) -> None:
        self.container.close()


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_frame_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frame folder (jpg/jpeg/png/bmp/webp, any case) in natural name order."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"frame folder {str(root)!r} does not exist")
    files = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=_natural_key)


class _FrameFolderImpl:
    def __init__(self, path: str, fps: float | None, max_side: int | None) -> None:
        from PIL import Image

        if fps is None or not math.isfinite(float(fps)) or float(fps) <= 0:
            raise ValueError(f"frame folder {path!r} needs its frame rate: pass fps > 0 (MVBench's frame "
                             f"tasks declare 3 fps), got {fps!r}")
        self.files = list_frame_files(path)
        if not self.files:
            raise VideoError(f"frame folder {path!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        try:
            with Image.open(self.files[0]) as first:
                w, h = first.size
        except OSError as exc:
            raise VideoError(f"cannot read frame {str(self.files[0])!r}: {exc}") from exc
        self.th, self.tw = _target_size(h, w, max_side)
        self.meta = VideoMeta(path, len(self.files), float(fps), self.th, self.tw)

    def _read(self, i: int) -> np.ndarray:
        from PIL import Image

        try:
            with Image.open(self.files[i]) as img:
                rgb = img.convert("RGB")
        except OSError as exc:
            raise VideoError(f"cannot read frame {str(self.files[i])!r}: {exc}") from exc
        if rgb.size != (self.tw, self.th):
            rgb = rgb.resize((self.tw, self.th), Image.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)

    def get(self, idx: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(idx, return_inverse=True)
        frames = np.stack([self._read(int(i)) for i in uniq])
        return np.ascontiguousarray(frames[inverse])

    def close(self) -> None:
        """Nothing stays open between reads."""
