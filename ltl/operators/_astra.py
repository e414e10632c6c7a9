"""Raw ASTRA calls on torch tensors: projector caches and batched forward/back projection.

Everything here works on contiguous float32 tensors that the caller has validated:
images ``(B, N, N)`` and sinograms ``(B, V, D)``. CPU tensors go through ASTRA's 2D CPU
projectors, one slice per thread (ASTRA releases the GIL); CUDA tensors go through the
``cuda`` projector for one slice and through one ``parallel3d`` stack for several, both via
``astra.experimental`` and DLPack, without host copies. Fan-beam geometries use ASTRA's
``line_fanflat``/``strip_fanflat`` CPU kernels and, on CUDA, the 2D ``cuda`` projector slice by
slice (a 3D cone stack would not keep the slices apart).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ..runtime.devices import num_workers

CPU_PROJECTORS = ("linear", "line", "strip")
#: The CPU kernels ASTRA has for a flat-detector fan beam (it has no linear one).
FAN_PROJECTORS = ("line", "strip")

_lock = threading.Lock()
_projectors_2d: dict[tuple, int] = {}
_projectors_3d: "OrderedDict[tuple, int]" = OrderedDict()
_MAX_3D = 8
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
#: Tasks per worker thread when a CPU batch is spread over the pool (:func:`_map_slices`).
_CHUNKS_PER_WORKER = 4


_module = None


def _astra():
    """The ``astra`` module with ``astra.experimental`` loaded (imported once, then cached)."""
    global _module
    if _module is None:
        try:
            import astra
            import astra.experimental  # noqa: F401
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ImportError(
                "ltl needs astra-toolbox for its Radon operator: pip install 'astra-toolbox>=2.5'"
            ) from exc
        _module = astra
    return _module


def _get_pool() -> ThreadPoolExecutor:
    global _pool, _pool_size
    n = num_workers()
    with _lock:
        if _pool is None or _pool_size != n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="ltl-astra")
            _pool_size = n
    return _pool


def _cpu_projector(geometry, kind: str, oversample: int) -> int:
    key = (geometry._key, kind, oversample)
    with _lock:
        pid = _projectors_2d.get(key)
        if pid is None:
            astra = _astra()
            name = f"{kind}_fanflat" if geometry.is_fan else kind
            pid = astra.create_projector(name, geometry.astra_proj_geom(), geometry.astra_vol_geom(oversample))
            _projectors_2d[key] = pid
    return pid


def _cuda_projector_2d(geometry, device_index: int, oversample: int) -> int:
    key = (geometry._key, "cuda", device_index, oversample)
    with _lock:
        pid = _projectors_2d.get(key)
        if pid is None:
            astra = _astra()
            astra.set_gpu_index(device_index)
            pid = astra.create_projector("cuda", geometry.astra_proj_geom(), geometry.astra_vol_geom(oversample))
            _projectors_2d[key] = pid
    return pid


def _cuda_projector_3d(geometry, batch: int, device_index: int) -> int:
    """A ``cuda3d`` projector for a stack of ``batch`` slices.

    The stack is a ``parallel3d`` geometry with ``batch`` detector rows, volume
    ``create_vol_geom(N, N, batch)`` (arrays ``(B, N, N)``) and projections ``(B, V, D)``.
    ASTRA's 3D parallel geometry turns the other way round: 3D with angles −θ equals the 2D
    ``parallel`` geometry with θ (up to the kernels' own ~1e-3 difference), hence the minus.
    """
    key = (geometry._key, batch, device_index)
    with _lock:
        pid = _projectors_3d.get(key)
        if pid is not None:
            _projectors_3d.move_to_end(key)
            return pid
        astra = _astra()
        astra.set_gpu_index(device_index)
        n, d = geometry.image_size, geometry.det_count
        vg = astra.create_vol_geom(n, n, batch)
        pg = astra.create_proj_geom("parallel3d", geometry.det_spacing, 1.0, batch, d, -geometry.angles)
        pid = astra.create_projector("cuda3d", pg, vg)
        _projectors_3d[key] = pid
        while len(_projectors_3d) > _MAX_3D:
            _, old = _projectors_3d.popitem(last=False)
            astra.projector3d.delete(old)
    return pid


@atexit.register
def _cleanup() -> None:  # pragma: no cover - interpreter shutdown
    try:
        astra = _astra()
        for pid in _projectors_2d.values():
            astra.projector.delete(pid)
        for pid in _projectors_3d.values():
            astra.projector3d.delete(pid)
    except Exception:
        pass


def _use_stack() -> bool:
    """Batches on CUDA go through one 3D stack unless ``LTL_CUDA_STACK=0`` (then slice by slice)."""
    return os.environ.get("LTL_CUDA_STACK", "1") != "0"


def _map_slices(fn, a: torch.Tensor, b: torch.Tensor) -> None:
    """Call ``fn(a[i], b[i])`` for every slice, spread over the worker threads."""
    n = a.shape[0]
    if n == 1:  # one slice: no pool, no look-up of the worker count
        fn(a[0], b[0])
        return
    workers = min(num_workers(), n)
    if workers <= 1:
        for i in range(n):
            fn(a[i], b[i])
        return
    # Contiguous chunks, _CHUNKS_PER_WORKER per worker: few enough that the pool's overhead stays
    # negligible, enough that a worker whose core another process holds gets less of the batch.
    bounds = np.linspace(0, n, min(n, _CHUNKS_PER_WORKER * workers) + 1).astype(int)

    def run(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            fn(a[i], b[i])

    futures = [_get_pool().submit(run, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    for f in futures:
        f.result()


def forward(geometry, x: torch.Tensor, kind: str, oversample: int = 1) -> torch.Tensor:
    """Forward projection of a contiguous float32 stack ``(B, kN, kN)`` → ``(B, V, D)``."""
    exp = _astra().experimental
    out = torch.empty((x.shape[0], *geometry.sino_shape), dtype=torch.float32, device=x.device)
    if x.is_cuda:
        idx = x.device.index or 0
        with torch.cuda.device(x.device):
            torch.cuda.current_stream().synchronize()
            if x.shape[0] == 1 or oversample != 1 or geometry.is_fan or not _use_stack():
                pid = _cuda_projector_2d(geometry, idx, oversample)
                for i in range(x.shape[0]):
                    exp.direct_FP2D(pid, x[i], out[i])
            else:
                exp.direct_FP3D(_cuda_projector_3d(geometry, x.shape[0], idx), x, out)
        return out
    pid = _cpu_projector(geometry, kind, oversample)
    _map_slices(lambda a, b: exp.direct_FP2D(pid, a, b), x, out)
    return out


def backward(geometry, y: torch.Tensor, kind: str, oversample: int = 1) -> torch.Tensor:
    """Back projection (the adjoint) of a contiguous float32 stack ``(B, V, D)`` → ``(B, kN, kN)``."""
    exp = _astra().experimental
    n = geometry.image_size * oversample
    out = torch.empty((y.shape[0], n, n), dtype=torch.float32, device=y.device)
    if y.is_cuda:
        idx = y.device.index or 0
        with torch.cuda.device(y.device):
            torch.cuda.current_stream().synchronize()
            if y.shape[0] == 1 or oversample != 1 or geometry.is_fan or not _use_stack():
                pid = _cuda_projector_2d(geometry, idx, oversample)
                for i in range(y.shape[0]):
                    exp.direct_BP2D(pid, out[i], y[i])
            else:
                exp.direct_BP3D(_cuda_projector_3d(geometry, y.shape[0], idx), out, y)
        return out
    pid = _cpu_projector(geometry, kind, oversample)
    _map_slices(lambda a, b: exp.direct_BP2D(pid, b, a), y, out)
    return out
