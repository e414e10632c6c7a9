"""ltl's messages go through Python's :mod:`logging`, under the logger ``"ltl"`` and its children
(``logging.getLogger(__name__)`` in each module).

In Python nothing is configured: warnings reach stderr through logging's last-resort handler,
information is hidden until the application asks for it (``logging.basicConfig(level=logging.INFO)``
or :func:`console`). The ``ltl`` command calls :func:`console` with its ``--quiet`` / ``--verbose``
level for the duration of one command: information lines on stdout, warnings and errors on stderr
as ``ltl: warning: ...``, debug lines on stderr. Progress bars (:mod:`ltl.runtime.progress`) are
drawn only while the ``ltl`` logger lets information through, so ``--quiet`` turns them off too.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator

__all__ = ["ROOT", "QUIET", "NORMAL", "VERBOSE", "level_of", "console", "ConsoleHandler"]

#: The name of ltl's root logger.
ROOT = "ltl"
#: Verbosities of :func:`console`: warnings and errors only; information too; debug lines too.
QUIET, NORMAL, VERBOSE = -1, 0, 1


def level_of(verbosity: int) -> int:
    """The logging level of a verbosity (:data:`QUIET`, :data:`NORMAL` or :data:`VERBOSE`; values
    beyond are clipped)."""
    return logging.WARNING if verbosity < NORMAL else logging.INFO if verbosity == NORMAL else logging.DEBUG


class ConsoleHandler(logging.Handler):
    """Information on the current ``sys.stdout`` (the message alone), warnings and errors on the
    current ``sys.stderr`` as ``ltl: warning: ...`` / ``ltl: error: ...``, debug on stderr.

    The streams are looked up at every record, so redirections made after set-up are followed.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            if record.levelno >= logging.WARNING:
                stream, msg = sys.stderr, f"ltl: {record.levelname.lower()}: {msg}"
            elif record.levelno < logging.INFO:
                stream, msg = sys.stderr, f"ltl: debug: {msg}"
            else:
                stream = sys.stdout
            stream.write(msg + "\n")
            stream.flush()
        except Exception:  # pragma: no cover - logging's own policy for broken streams
            self.handleError(record)


@contextlib.contextmanager
def console(verbosity: int = NORMAL) -> Iterator[logging.Logger]:
    """Show ltl's messages on the console at ``verbosity`` inside the ``with`` block.

    Adds one :class:`ConsoleHandler` to the ``ltl`` logger and sets its level; both are restored
    on exit, so a program (or a test) that runs several commands in one process is left as it was.
    Records still propagate to the root logger's handlers (e.g. pytest's ``caplog``).
    """
    logger = logging.getLogger(ROOT)
    handler = ConsoleHandler()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level_of(verbosity))
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
