"""Exceptions raised by the segmentation package (no Django here; callers map them)."""


class SegmentationError(Exception):
    """Base class: the engine could not produce a mask."""


class UnknownSegmenter(SegmentationError):
    """``get_segmenter(name)`` was given a name no backend is registered under."""


class WeightsError(SegmentationError):
    """Weights could not be fetched, verified or converted (offline, hash mismatch, ...)."""


class WeightsMissing(SegmentationError):
    """The converted weights are not in the model directory: run ``manage.py fetch_model``."""
