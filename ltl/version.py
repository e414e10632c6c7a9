"""ltl's version, from the installed package metadata (``0.1.0`` in a source tree without installation)."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("ltl")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

__all__ = ["__version__"]
