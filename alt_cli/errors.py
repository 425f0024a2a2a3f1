"""User-facing errors.

Anything the user can cause (a missing file, undecodable audio, absent model weights) raises
:class:`AltError` with a message that fits on one line and says what to do.  The CLI prints it
as ``alt: error: <message>`` and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


class AltError(Exception):
    """An error whose message is meant for the user, on one line."""


class AudioError(AltError):
    """The input could not be read as audio (missing, empty, corrupt, too short)."""


class ModelUnavailableError(AltError):
    """Model weights are not on this machine and cannot be fetched."""
