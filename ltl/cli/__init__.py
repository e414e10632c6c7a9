"""The ``ltl`` command: info, simulate, reconstruct, dataset, train, evaluate, explain, demo.

One module per command (``ltl.cli.<command>``), each with ``add_parser(subparsers)``; this is
the only package that knows argparse, and nothing else in ltl imports it.

User errors (bad arguments, missing or corrupt files, shapes that do not fit) print one line
``ltl: error: ...`` and exit with status 2, without a traceback (set ``LTL_DEBUG=1`` to see it),
and never overwrite an existing output unless ``--overwrite`` is given. Argument errors end with the
same line; a full disk or a read-only folder too. When the reader of the output goes away
(``ltl dataset info X | head -1``) the command stops quietly with status 141, as one killed by
SIGPIPE.

``-q/--quiet`` and ``-v/--verbose`` (before or after the command) set the level of ltl's messages
(:mod:`ltl.runtime.log`): quiet shows warnings and errors only and no progress bars; verbose adds
debug lines. Results a command exists to print (tables, ``ltl info``) are printed either way.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..models.shipped import DEFAULT_CHECKPOINT, default_checkpoint
from . import dataset, demo, evaluate, explain, info, models, reconstruct, simulate, train
from .common import UsageError

__all__ = ["main", "parser", "given_options", "UsageError", "COMMANDS", "default_checkpoint", "DEFAULT_CHECKPOINT"]

#: The subcommands in the order ``ltl --help`` lists them.
COMMANDS = {"info": info, "simulate": simulate, "reconstruct": reconstruct, "dataset": dataset, "train": train,
            "evaluate": evaluate, "explain": explain, "demo": demo, "models": models}


class _Parser(argparse.ArgumentParser):
    """argparse with ltl's error line: the usage, then ``ltl: error: ...`` naming the command."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        self.exit(2, f"ltl: error: {f'{command}: ' if command else ''}{message}\n")


def parser() -> argparse.ArgumentParser:
    from ..version import __version__

    p = _Parser(prog="ltl", description="Limited-angle CT: learn only what the data cannot see.")
    p.add_argument("--version", action="version", version=f"ltl {__version__}")
    _verbosity_options(p, argparse.SUPPRESS)  # absent from the namespace unless given: main reads 0
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(sub)
    for command in _subparsers(p):  # `ltl demo --quiet` as well as `ltl --quiet demo`
        _verbosity_options(command, argparse.SUPPRESS)
    return p


def _verbosity_options(p: argparse.ArgumentParser, default) -> None:
    """Add ``-q/--quiet`` and ``-v/--verbose`` (dest ``verbosity``) unless ``p`` has options of those names."""
    if {"-q", "--quiet", "-v", "--verbose"} & set(p._option_string_actions):
        return
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1, default=default,
                   help="warnings and errors only, no progress bars")
    g.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1, default=default,
                   help="also debug messages")


def _subparsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below ``p`` (commands and their actions), depth first."""
    out = []
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                out += [child] + _subparsers(child)
    return out


def given_options(argv: Sequence[str]) -> frozenset[str]:
    """The destinations of the options and arguments written on the command line ``argv`` (not
    those left at their defaults): ``ltl train --out r --resume --epochs 9`` gives
    ``{'out', 'resume', 'epochs', ...}``. ``main`` stores it as ``args.given_options``."""
    p = parser()
    for q in [p] + _subparsers(p):
        for action in q._actions:
            if not isinstance(action, (argparse._SubParsersAction, argparse._HelpAction, argparse._VersionAction)):
                action.default = argparse.SUPPRESS
        q._defaults.clear()
    ns = p.parse_args(list(argv))
    return frozenset(k for k in vars(ns) if k not in ("command", "verbosity"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ltl`` command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    from ..runtime.files import LockedError
    from ..runtime.log import console

    argv = [os.fspath(a) if isinstance(a, os.PathLike) else a for a in (sys.argv[1:] if argv is None else argv)]
    try:
        args = parser().parse_args(argv)
        args.given_options = given_options(argv)
        with console(getattr(args, "verbosity", 0)):
            status = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is reported below
        return status
    except BrokenPipeError:
        return _stdout_gone()
    except (UsageError, ValueError, TypeError, FileNotFoundError, FileExistsError, IsADirectoryError,
            NotADirectoryError, PermissionError, LockedError) as exc:
        if os.environ.get("LTL_DEBUG") or (isinstance(exc, TypeError) and not _user_type_error(exc)):
            raise
        return _error(exc)
    except OSError as exc:  # a disk that is full or gone, a read-only file system, ...
        if os.environ.get("LTL_DEBUG") or exc.errno is None:
            raise
        return _error(exc)
    except KeyboardInterrupt:
        print("ltl: interrupted", file=sys.stderr)
        return 130


def _error(exc: BaseException) -> int:
    """Print ``ltl: error: ...`` (one line) for a user error; exit status 2."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:  # without "[Errno 28]"
        msg = exc.strerror if str(exc.filename) in exc.strerror else f"{exc.filename}: {exc.strerror}"
    else:
        msg = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        print(f"ltl: error: {msg}", file=sys.stderr)
    except (BrokenPipeError, OSError):  # pragma: no cover - stderr gone too
        pass
    return 2


def _user_type_error(exc: TypeError) -> bool:
    """A TypeError raised on purpose for a user's value (ltl's own messages say 'must be')."""
    return "must be" in str(exc)


def _stdout_gone() -> int:
    """The reader of stdout went away (``ltl dataset info X | head -1``): stop quietly, as a
    command killed by SIGPIPE would, and keep Python from complaining when it flushes at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (captured in-process)
        pass
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
