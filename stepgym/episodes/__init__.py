"""The episode record: schema, writer/reader, recording wrapper, export, scores."""

from stepgym.episodes.evaluate import Summary, per_task, summarize, wilson_interval
from stepgym.episodes.io import EpisodeWriter, read_episodes
from stepgym.episodes.recorder import RecordEpisodes
from stepgym.records import Episode, Step

__all__ = ["Episode", "Step", "EpisodeWriter", "read_episodes", "RecordEpisodes",
           "Summary", "summarize", "per_task", "wilson_interval"]
