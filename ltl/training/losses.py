"""What the network is trained on and how its error is measured.

:func:`training_pair` turns a batch's start image and truth into the raw network input and target
(LtI: the visible coefficients and the invisible ones of the truth; PostProc: the image and the
residual); the network standardises the target per channel, and :func:`loss` is the weighted mean
squared error in that normalised space with the channel weights of :func:`loss_weights`.
"""

from __future__ import annotations

import torch

from .config import LOSSES

__all__ = ["coefficients", "training_pair", "random_crop", "data_keys", "network_start", "loss_weights", "loss",
           "network_batch", "optimizer_step"]


def coefficients(model, f_vis: torch.Tensor) -> torch.Tensor | None:
    """SH(f_vis) ``(B, C, N, N)`` for an LtI model (shared by its input, target and combination);
    None for a :class:`~ltl.models.PostProc` model, which works on images."""
    return model.analysis(f_vis) if hasattr(model, "analysis") else None


def training_pair(model, f_vis: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw network input and raw target (the invisible coefficients of the truth).

    ``f_vis, truth`` ``(B, N, N)`` → ``x (B, C_vis[+1], N, N)``, ``t (B, C_inv, N, N)``; ``t`` is
    :meth:`~ltl.models.LtI.network_target` (a correction of f_vis's coefficients for a residual model).
    For a :class:`~ltl.models.PostProc` model ``f_vis`` is its input image (f_vis or the FBP) and
    ``x, t`` are ``(B, 1, N, N)``: the image and the residual ``truth − image``.
    """
    coeffs = coefficients(model, f_vis)
    return model.network_input(f_vis, coeffs), model.network_target(f_vis, truth, coeffs)


def random_crop(x: torch.Tensor, t: torch.Tensor, p: int,
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random ``p × p`` crop of each sample's input ``x (B, C_in, H, W)`` and target
    ``t (B, C_out, H, W)``, positions drawn from ``gen``; ``p`` (pixels) is clipped to the size,
    and images no larger than ``p`` are returned whole."""
    b, _, h, w = x.shape
    if p >= h and p >= w:
        return x, t
    p = min(p, h, w)
    i = torch.randint(0, h - p + 1, (b,), generator=gen).tolist()
    j = torch.randint(0, w - p + 1, (b,), generator=gen).tolist()
    xs = torch.stack([x[k, :, i[k]:i[k] + p, j[k]:j[k] + p] for k in range(b)])
    ts = torch.stack([t[k, :, i[k]:i[k] + p, j[k]:j[k] + p] for k in range(b)])
    return xs, ts


def data_keys(model: str) -> tuple[str, ...]:
    """The dataset arrays model kind ``model`` trains on: the truth, and f_vis or (for
    ``'postproc-fbp'``) the sinogram."""
    return ("sinogram", "truth") if model == "postproc-fbp" else ("f_vis", "truth")


def network_start(model, batch: dict, dev: torch.device, non_blocking: bool = False) -> torch.Tensor:
    """The image ``(B, N, N)`` a batch's network input is made from, on ``dev``: f_vis, or for a
    post-processed FBP the FBP of the batch's sinograms (computed on ``dev``)."""
    if getattr(model, "source", None) == "fbp":
        with torch.no_grad():
            return model.initial(batch["sinogram"].to(dev, non_blocking=non_blocking))
    return batch["f_vis"].to(dev, non_blocking=non_blocking)


def loss_weights(net, kind: str) -> torch.Tensor | None:
    """Per-channel weights ``(1, C_out, 1, 1)`` of the squared error in normalised space (None: all equal).

    ``'normalized'``: all equal; ``'coefficients'`` weighs channel c by ``out_std_c² / mean(out_std²)``
    (the raw-scale error divided by the mean channel variance); ``'mixed'`` by the mean of that and 1.

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`~ltl.training.config.LOSSES`.
    """
    if kind not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {kind!r}")
    if kind == "normalized":
        return None
    v = net.out_std.double() ** 2
    w = v / v.mean()
    if kind == "mixed":
        w = 0.5 * (w + 1.0)
    return w.float().view(1, -1, 1, 1)


def loss(z: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None,
         per_sample: bool = False) -> torch.Tensor:
    """Weighted mean squared error of the network output in normalised space.

    Parameters
    ----------
    z : Tensor ``(B, C, H, W)``
        Network output (any float dtype; computed in float32).
    target : Tensor ``(B, C, H, W)``
        Normalised target (``net.normalize_target(t)``).
    weights : Tensor ``(1, C, 1, 1)`` or None
        Channel weights (:func:`loss_weights`); None weighs every channel 1.
    per_sample : bool
        Return the mean over each sample ``(B,)`` instead of the scalar mean.
    """
    e = (z.float() - target) ** 2
    if weights is not None:
        e = e * weights
    return e.mean(dim=(1, 2, 3)) if per_sample else e.mean()


@torch.no_grad()
def network_batch(model, f_vis: torch.Tensor, truth: torch.Tensor, *, patch: int | None = None,
                  gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One training step's network input and normalised target, as the training loop makes them.

    :func:`training_pair`, then (with ``patch``) the same random ``patch × patch`` crop of both
    drawn from ``gen`` (:func:`random_crop`), then the target standardised by the network
    (``net.normalize_target``); on CUDA the input is made channels-last. Returns ``x`` and the
    target, both ``(B, C, H, W)`` on the model's device.
    """
    x, t = training_pair(model, f_vis, truth)
    if patch is not None:
        x, t = random_crop(x, t, patch, gen if gen is not None else torch.Generator().manual_seed(0))
    target = model.net.normalize_target(t)
    if x.device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    return x, target


def optimizer_step(batch_loss: torch.Tensor, opt: torch.optim.Optimizer, scaler, params,
                   grad_clip: float | None = None) -> None:
    """Backward pass and optimiser step through the AMP ``scaler`` (a disabled one on the CPU),
    with the gradient norm of ``params`` clipped to ``grad_clip`` when given."""
    opt.zero_grad(set_to_none=True)
    scaler.scale(batch_loss).backward()
    if grad_clip is not None:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(opt)
    scaler.update()
