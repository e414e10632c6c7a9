"""What every ltl reconstruction model shares: one scan geometry, its checks, its operator, and a
checkpoint directory (``model.pt`` + ``model.json``, see :mod:`ltl.models.checkpoint`), and the
batched ``reconstruct`` loop."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from ..geometry import Geometry
from . import registry
from .checkpoint import load_state, read_meta, save_dir

__all__ = ["ScanModel"]


class ScanModel(nn.Module):
    """Base of :class:`~ltl.models.LtI` and :class:`~ltl.models.PostProc`.

    A subclass sets ``geometry`` and ``_A = None`` in its constructor, and defines ``FORMAT`` (its
    metadata format), ``KINDS`` (the model kinds it serves), ``NAME`` (short, for messages), ``NOUN``
    (``"an LtI model"``), ``LOAD_HINT`` (what writes such a checkpoint), ``OUTPUT`` (the key of the
    final image among :meth:`reconstruction_parts`), ``metadata``, ``from_metadata``, ``kind_of``
    and :meth:`reconstruction_parts`; ``model_name`` (for the geometry error) defaults to ``NAME`` +
    " model". It registers with :func:`ltl.models.registry.register`.

    ``reconstruction_parts(y, full, progress=False) -> dict`` (defined by every subclass) gives the
    images of one batch of checked sinograms ``(B, V, D)``: at least :attr:`OUTPUT`, and with ``full``
    every part :meth:`reconstruct` documents; ``progress`` shows a bar for the iterative first step.
    """

    FORMAT: str
    KINDS: tuple[str, ...]
    NAME: str
    NOUN: str
    LOAD_HINT: str
    OUTPUT: str
    #: Settings that may be set after training (``load(..., name=value)`` sets ``name_settings``).
    OPTIONS: tuple[str, ...] = ()

    @classmethod
    def kind_of(cls, meta: dict) -> str:
        """The model kind that checkpoint metadata of this class's format describe."""
        return meta.get("kind")

    @property
    def model_name(self) -> str:
        """What the geometry error calls the model; subclasses refine it (e.g. by kind)."""
        return f"{self.NAME} model"

    # ------------------------------------------------------------------ geometry
    def check_geometry(self, geometry: Geometry, what: str = "scan") -> None:
        """``ValueError`` naming both geometries unless ``geometry`` is the model's."""
        if geometry != self.geometry:
            raise ValueError(
                f"this {self.model_name} was trained for {self.geometry.describe()}, but the {what} has "
                f"{geometry.describe()}; use (or train) a model for the scan's geometry"
            )

    def _check_sino(self, y: torch.Tensor) -> tuple[torch.Tensor, bool]:
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor or an ltl Scan, got {type(y).__name__}")
        shape = self.geometry.sino_shape
        if y.ndim not in (2, 3) or tuple(y.shape[-2:]) != shape:
            raise ValueError(
                f"sinograms must have shape {shape} or (B, {shape[0]}, {shape[1]}) for the model's geometry "
                f"{self.geometry.describe()}, got {tuple(y.shape)}; this model cannot reconstruct another geometry"
            )
        single = y.ndim == 2
        return (y[None] if single else y).to(self.device, torch.float32), single

    def _check_images(self, f: torch.Tensor, what: str) -> torch.Tensor:
        n = self.geometry.image_size
        if not isinstance(f, torch.Tensor) or f.ndim != 3 or tuple(f.shape[-2:]) != (n, n):
            shape = tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__
            raise ValueError(f"{what} must have shape (B, {n}, {n}) for {self.geometry.describe()}, got {shape}")
        return f

    @property
    def operator(self):
        """The model's :class:`~ltl.RadonOperator`, made on first use."""
        if self._A is None:
            from ..operators import RadonOperator

            self._A = RadonOperator(self.geometry)
        return self._A

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path) -> Path:
        """Write ``path/model.pt`` (state dict) and ``path/model.json`` (metadata), each atomically."""
        return save_dir(self, path, self.metadata(), self.NAME)

    @classmethod
    def load(cls, path: str | Path, *, map_location: str | torch.device | None = "cpu",
             geometry: Geometry | None = None, **options):
        """Load a checkpoint directory (or its ``model.json`` / ``model.pt``) written by :meth:`save`.

        ``options`` are settings a model class allows to set after training, applied after loading
        as attributes ``<name>_settings`` (LtI: ``refine``, its data-consistent final step).

        Raises ``FileNotFoundError`` for a missing checkpoint, ``ValueError`` for a corrupt or
        mismatched one, for another kind of ltl model (read those with
        :func:`ltl.models.load_model`), when ``geometry`` is given and differs from the model's,
        or for an option the model does not have.
        """
        meta, weights_p, meta_p = read_meta(path, cls.NAME, cls.LOAD_HINT)
        if meta.get("format") in set(registry.formats()) - {cls.FORMAT}:
            raise ValueError(f"{meta_p} holds a {meta.get('kind', 'ltl')!r} model, not {cls.NOUN}; load it with "
                             "ltl.models.load_model")
        try:
            model = cls.from_metadata(meta)
        except ValueError as exc:
            raise ValueError(f"{meta_p}: {exc}") from exc
        if geometry is not None:
            model.check_geometry(geometry)
        load_state(model, weights_p, meta_p)
        for k, v in options.items():
            if k not in cls.OPTIONS:
                raise ValueError(f"{cls.NOUN} has no option {k!r}; options: {', '.join(cls.OPTIONS) or 'none'}")
            setattr(model, f"{k}_settings", v)
        if map_location is not None:
            model.to(map_location)
        return model

    # ------------------------------------------------------------------ reconstruction
    def reconstruct(self, y, *, geometry: Geometry | None = None, return_parts: bool = False,
                    batch_size: int | None = None, progress: bool = False):
        """Reconstruct sinograms in batches, in eval mode and without gradients.

        Parameters
        ----------
        y : torch.Tensor ``(V, D)`` or ``(B, V, D)``, or an ltl ``Scan``
            Sinograms of the model's geometry (a Scan's geometry is checked).
        geometry : Geometry, optional
            The scan's geometry, checked against the model's (``ValueError`` naming both).
        return_parts : bool
            Return a dict of every part (see the subclass) instead of the final image.
        batch_size : int, optional
            Process at most this many sinograms at a time (default all at once).
        progress : bool
            Show a progress bar (with an ETA) for the iterative first step of each batch.

        Returns
        -------
        torch.Tensor ``(B, N, N)`` (``(N, N)`` for one sinogram), or with ``return_parts`` a dict of
        the parts, on the model's device.
        """
        from ..data.simulate import Scan

        if isinstance(y, Scan):
            self.check_geometry(y.geometry)
            y = y.sinogram
        if geometry is not None:
            self.check_geometry(geometry)
        yb, single = self._check_sino(y)
        if not bool(torch.isfinite(yb).all()):
            raise ValueError("the sinograms contain NaN or inf")
        step = yb.shape[0] if batch_size is None else int(batch_size)
        if step < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        was_training = self.training
        self.eval()
        parts: dict[str, list] = {}
        try:
            with torch.no_grad():
                for a in range(0, yb.shape[0], step):
                    for k, v in self.reconstruction_parts(yb[a:a + step], return_parts, progress=progress).items():
                        parts.setdefault(k, []).append(v)
        finally:
            self.train(was_training)
        out = {k: torch.cat(v) for k, v in parts.items()}
        if single:
            out = {k: v[0] for k, v in out.items()}
        return out if return_parts else out[self.OUTPUT]
