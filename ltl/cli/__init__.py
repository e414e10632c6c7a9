"""The ``ltl`` command: info, simulate, reconstruct, dataset, train, evaluate, explain, demo.

One module per command (``ltl.cli.<command>``), each with ``add_parser(subparsers)``; this is
the only package that knows argparse, and nothing else in ltl imports it.

User errors (bad arguments, missing or corrupt files, shapes that do not fit) print one line
``ltl: error: ...`` and exit with status 2, without a traceback (set ``LTL_DEBUG=1`` to see it),
and never overwrite an existing output unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..models.shipped import DEFAULT_CHECKPOINT, default_checkpoint
from . import dataset, demo, evaluate, explain, info, reconstruct, simulate, train
from .common import UsageError

__all__ = ["main", "UsageError", "COMMANDS", "default_checkpoint", "DEFAULT_CHECKPOINT"]

#: The subcommands in the order ``ltl --help`` lists them.
COMMANDS = {"info": info, "simulate": simulate, "reconstruct": reconstruct, "dataset": dataset, "train": train,
            "evaluate": evaluate, "explain": explain, "demo": demo}


def parser() -> argparse.ArgumentParser:
    from ..version import __version__

    p = argparse.ArgumentParser(prog="ltl", description="Limited-angle CT: learn only what the data cannot see.")
    p.add_argument("--version", action="version", version=f"ltl {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ValueError, FileNotFoundError, FileExistsError, IsADirectoryError) as exc:
        if os.environ.get("LTL_DEBUG"):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"ltl: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ltl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
