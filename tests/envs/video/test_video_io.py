import numpy as np
import pytest
from video_helpers import counter_frames, frame_number

from stepgym.envs.video.io import (
    VideoError,
    VideoReader,
    list_frame_files,
    open_video,
    read_frames,
    sample_indices,
    write_frame_folder,
    write_video,
)


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


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory):
    """The counter frames as MVBench releases frame tasks: 00001.jpg, 00002.jpg, ... declared 3 fps."""
    return write_frame_folder(tmp_path_factory.mktemp("frames") / "clip_0001", counter_frames(30))


def test_frame_folder_reads_like_a_video(frame_folder):
    reader = open_video(frame_folder, fps=3.0)
    assert reader.backend == "frames"
    assert reader.meta.num_frames == 30 and reader.meta.fps == 3.0 and reader.meta.duration == 10.0
    assert (reader.meta.height, reader.meta.width) == (64, 96)
    idx = [29, 0, 7, 7, 15]
    frames = reader.get_frames(idx)
    assert frames.shape == (5, 64, 96, 3) and [frame_number(f) for f in frames] == idx
    # timestamps from the declared rate: the n-th image is at (n-1)/fps
    np.testing.assert_allclose(reader.meta.timestamps(idx), np.array(idx) / 3.0)
    # a clip in seconds picks the images of those seconds
    frames, ts = read_frames(frame_folder, fps=3.0, nframes=3, start=2.0, end=5.0)
    assert [frame_number(f) for f in frames] == [7, 10, 13]
    np.testing.assert_allclose(ts, [7 / 3, 10 / 3, 13 / 3])
    assert open_video(frame_folder, fps=3.0, max_side=48).get_frames([4]).shape == (1, 32, 48, 3)


def test_frame_folder_order_is_natural_and_sizes_are_unified(tmp_path):
    from PIL import Image

    frames = counter_frames(12)
    for i, f in enumerate(frames):  # unpadded numbers: 10.png must come after 9.png
        Image.fromarray(f).save(tmp_path / f"{i}.png")
    Image.fromarray(frames[3]).resize((48, 32)).save(tmp_path / "3.png")  # one frame of another size
    (tmp_path / "notes.txt").write_text("not a frame")
    assert [p.name for p in list_frame_files(tmp_path)][8:] == ["8.png", "9.png", "10.png", "11.png"]
    reader = open_video(tmp_path, fps=1.5)
    assert reader.meta.num_frames == 12 and reader.get_frames([3, 11]).shape == (2, 64, 96, 3)
    assert [frame_number(f) for f in reader.get_frames([9, 10, 11])] == [9, 10, 11]


def test_frame_folder_errors_name_the_fix(frame_folder, tmp_path):
    with pytest.raises(ValueError, match="needs its frame rate: pass fps > 0"):
        open_video(frame_folder)
    with pytest.raises(FileNotFoundError, match="is a folder: pass fps="):
        VideoReader(frame_folder, "decord")
    with pytest.raises(VideoError, match="holds no images"):
        open_video(tmp_path, fps=3.0)
