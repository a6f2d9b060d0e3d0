"""The one exception type for user mistakes."""

from __future__ import annotations


class NetsizeError(Exception):
    """A mistake in the user's network, spec, config or command line.

    Its message is the whole story: which layer, which numbers, and what to do.
    The command line prints it without a traceback and exits with status 2.

    >>> from netsize import NetsizeError
    >>> str(NetsizeError("fc1 (Linear): expects 6400 input features but receives 9216"))
    'fc1 (Linear): expects 6400 input features but receives 9216'
    """
