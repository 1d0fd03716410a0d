import numpy as np
import pytest

from stepgym.envs.video.io import VideoReader, open_video, read_frames, sample_indices, write_video


def frame_number(frame: np.ndarray) -> int:
    """The index the counter video wrote into a frame's top-left block."""
    return sum(1 << bit for bit in range(7) if frame[3:9, 12 * bit + 3 : 12 * bit + 9].mean() > 127)


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_random_access_returns_the_requested_frames(counter_video, backend):
    reader = VideoReader(counter_video, backend)
    assert reader.meta.num_frames == 100 and reader.meta.fps == pytest.approx(10.0)
    assert (reader.meta.height, reader.meta.width) == (64, 96)
    idx = [57, 3, 3, 99, 0, 41, 42, 80]
    frames = reader.get_frames(idx)
    assert frames.shape == (8, 64, 96, 3) and frames.dtype == np.uint8
    assert [frame_number(f) for f in frames] == idx
    np.testing.assert_allclose(reader.meta.timestamps(idx), np.array(idx) / 10.0)


def test_decord_and_pyav_decode_the_same_pixels(counter_video):
    a = VideoReader(counter_video, "decord").get_frames(range(0, 100, 7)).astype(int)
    b = VideoReader(counter_video, "pyav").get_frames(range(0, 100, 7)).astype(int)
    assert np.abs(a - b).max() <= 2


def test_auto_backend_prefers_decord_and_resizes(counter_video):
    reader = open_video(counter_video, max_side=48)
    assert reader.backend == "decord"
    assert reader.get_frames([5]).shape == (1, 32, 48, 3)
    assert reader.meta.height == 32


def test_sample_by_count_and_by_fps_with_clip(counter_video):
    meta = VideoReader(counter_video).meta
    assert sample_indices(meta, nframes=4).tolist() == [12, 37, 62, 87]
    assert sample_indices(meta, nframes=1, start=2.0, end=4.0).tolist() == [30]
    assert sample_indices(meta, sample_fps=1.0, start=2.0, end=5.0).tolist() == [25, 35, 45]
    assert len(sample_indices(meta, sample_fps=5.0)) == 50
    assert len(sample_indices(meta, sample_fps=5.0, max_frames=8)) == 8
    frames, ts = read_frames(counter_video, nframes=4, backend="pyav")
    assert [frame_number(f) for f in frames] == [12, 37, 62, 87]
    np.testing.assert_allclose(ts, [1.2, 3.7, 6.2, 8.7])


def test_bad_inputs_name_the_problem(counter_video, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        open_video(tmp_path / "nope.mp4")
    with pytest.raises(IndexError, match="frame index 100 out of range"):
        VideoReader(counter_video).get_frames([100])
    with pytest.raises(ValueError, match="exactly one of nframes or sample_fps"):
        sample_indices(VideoReader(counter_video).meta)
    with pytest.raises(ValueError, match="backend must be one of"):
        VideoReader(counter_video, "ffmpeg")
    with pytest.raises(ValueError, match="even frame sizes"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 15, 16, 3), np.uint8), fps=5)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(Exception, match="junk.mp4"):
        open_video(junk)


def test_qwen_vl_utils_reads_our_files_with_decord(counter_video, monkeypatch):
    monkeypatch.setenv("FORCE_QWENVL_VIDEO_READER", "decord")
    from qwen_vl_utils import process_vision_info

    messages = [{"role": "user", "content": [
        {"type": "video", "video": counter_video, "nframes": 4, "resized_height": 56, "resized_width": 84},
        {"type": "text", "text": "What moves?"}]}]
    _, videos = process_vision_info(messages)
    assert tuple(videos[0].shape) == (4, 3, 56, 84)
