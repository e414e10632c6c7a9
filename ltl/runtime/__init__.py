"""What every layer shares about where and how work runs: one policy each for devices
(:mod:`~ltl.runtime.devices`), torchrun set-up and collectives (:mod:`~ltl.runtime.distributed`),
progress and synchronisation (:mod:`~ltl.runtime.progress`), messages through Python's logging
(:mod:`~ltl.runtime.log`), atomic file writes (:mod:`~ltl.runtime.files`), intra-op threads of solver loops
(:mod:`~ltl.runtime.threads`) and the base of the typed settings (:mod:`~ltl.runtime.settings`).

It sits just above :mod:`ltl.geometry` and imports nothing else of ltl.
"""

from .devices import astra_cuda_available, cuda_usable, default_device, num_workers, resolve_device
from .files import (FileLock, LockedError, atomic_bytes, atomic_path, atomic_write, json_safe, make_output_dir,
                    refuse_input_as_output, rename_noreplace, same_file, temporary_sibling)
from .progress import Progress, sync
from .settings import Settings
from .threads import SMALL_NUMEL, loop_threads, solver_threads

__all__ = ["astra_cuda_available", "cuda_usable", "default_device", "num_workers", "resolve_device",
           "atomic_bytes", "atomic_path", "atomic_write", "json_safe", "temporary_sibling", "FileLock", "LockedError", "make_output_dir",
           "refuse_input_as_output", "rename_noreplace", "same_file", "Progress", "sync", "Settings",
           "SMALL_NUMEL", "loop_threads", "solver_threads"]
