"""The few domain errors of floodwatch. The mapping to exit codes lives in the CLI, to HTTP
codes in the web app: one table at each edge."""

from __future__ import annotations


class FloodwatchError(Exception):
    """Base class: a problem the user can act on; its message is one clear sentence."""


class ConfigError(FloodwatchError):
    """Settings or a region definition are wrong."""


class InputError(FloodwatchError):
    """A file, field, argument or payload given to floodwatch is malformed."""


class NotFoundError(FloodwatchError):
    """A named thing (region, station, area, feed) does not exist."""


class StoreUnavailableError(FloodwatchError):
    """The database cannot be reached or is not set up."""
