"""Exceptions that name the problem and the fix.

Every error raised on purpose by robustlab derives from :class:`RobustlabError`, so a
notebook or CLI can catch them in one place. Messages say what was wrong (the parameter,
the bad value, the path) and what to do instead.
"""
from __future__ import annotations


class RobustlabError(Exception):
    """Base class of all deliberate robustlab errors."""


class ParameterError(RobustlabError, ValueError):
    """A parameter is unknown, of the wrong type, or outside its allowed range."""


class DataError(RobustlabError):
    """Data is missing, unreadable, corrupt, or of the wrong shape."""


class CheckpointError(RobustlabError):
    """A checkpoint or result file is truncated, altered, or from another configuration."""


class EmptySelectionError(DataError):
    """A selection of images is empty (e.g. no image is classified correctly)."""


class DeadlineReached(RobustlabError):
    """The wall-clock deadline of a campaign (``--until``) passed; the work in progress was
    checkpointed and the next call resumes it."""


class ComputeRefused(RobustlabError):
    """A result is missing and computing it is not allowed here (``ROBUSTLAB_NO_COMPUTE=1``, or the
    paper profile on a machine without a GPU). The message names the campaign unit that computes it."""
