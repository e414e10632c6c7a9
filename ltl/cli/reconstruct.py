"""``ltl reconstruct``: one method of the registry (:mod:`ltl.methods`) on a scan — ltl's ``.npz``
scan file, or measured projections (a TIFF stack, an HDF5/NeXus file) with their flat and dark
fields, preprocessed as recorded in the output (:mod:`ltl.data.preprocess`)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from .. import methods
from ..data.preprocess import PreprocessSettings
from ..methods.volume import VolumeSettings
from ..solvers.settings import L1Settings, TVSettings
from .common import UsageError, check_out, device_of

__all__ = ["add_parser", "run", "method_settings", "make_solver", "scan_geometry", "angles_from_args"]

_GEOMETRY = ("start", "range", "step", "size", "det_pixel", "voxel", "source_origin", "origin_det")
_MEASURED = ("flats", "darks", "dataset", "start", "range", "step", "size", "det_pixel", "voxel", "source_origin",
             "origin_det", "log", "clip", "det_offset", "cor", "rings", "rows")


def method_settings(name: str, args) -> dict:
    """The settings of method ``name`` from the command line (unset options keep the defaults)."""
    common = {k: v for k, v in (("iters", args.iters),) if v is not None}
    if name == "fbp":
        return {"filter": args.filter}
    if name in ("sirt", "cgls"):
        return common
    reg = dict(common, lam=args.lam, noise=args.noise, **({"tol": args.tol} if args.tol is not None else {}))
    if name == "tv":
        return reg
    if name == "l1":
        return {"solver": reg, "frame": {"scales": args.scales}}
    return {}


def _model(args, device, geometry):
    """The LtI model for the scan: ``--checkpoint``, else the shipped model made for the scan's
    geometry (:func:`ltl.models.model_for`; a scan none fits is refused with the list of models
    and the commands that train one)."""
    from ..models import LtI, model_for

    if args.checkpoint:
        ckpt = Path(args.checkpoint)
        if not ckpt.exists():
            raise UsageError(f"checkpoint {ckpt} not found; train one with `ltl train` and pass "
                             "--checkpoint RUN_DIR/model")
    else:
        ckpt = model_for(geometry)
    return LtI.load(ckpt, map_location=device), str(ckpt)


def _rebinned_for(model, geometry, y):
    """A fan-beam scan resampled onto the model's parallel-beam geometry (``ValueError`` when it
    does not cover the rays through the image)."""
    from ..operators.rebin import rebin_fan_to_parallel

    target = model.geometry
    if target.image_size != geometry.image_size:
        raise ValueError(f"the model reconstructs {target.image_size}² images, the scan asks for "
                         f"{geometry.image_size}²; pass --size {target.image_size}")
    y_par, mask = rebin_fan_to_parallel(y, geometry, target, return_mask=True)
    t = (np.arange(target.det_count) - (target.det_count - 1) / 2.0) * target.det_spacing
    through = np.abs(t) < target.image_size / np.sqrt(2.0) - 1.0  # rays that cross the image
    cover = float(mask.cpu().numpy()[:, through].mean())
    if cover < 0.995:
        raise ValueError(f"the fan-beam scan covers {100 * cover:.1f}% of the model's parallel-beam rays "
                         f"({target.describe()}); scan {target.angular_range_deg:.0f}° plus the fan angle "
                         f"({geometry.fan_angle_deg:.1f}°)")
    return y_par, cover


def make_solver(name: str, geometry, args, device, *, progress: bool | None = None):
    """Method ``name`` built once for sinograms of ``geometry`` on ``device``: a function from
    sinograms ``(B, V, D)`` to ``(images (B, N, N), record, extra arrays)``; ``progress`` shows the
    solvers' bars (default: unless --no-progress)."""
    from ..operators import RadonOperator

    A = RadonOperator(geometry)
    show = not args.no_progress if progress is None else progress
    if methods.get(name).learned:
        model, ckpt = _model(args, device, geometry)
        rebin = geometry.is_fan and not model.geometry.is_fan
        if not rebin:
            model.check_geometry(geometry)
        A_model = RadonOperator(model.geometry) if rebin else A
        method = methods.create(name, model=model)

        def solve_learned(y):
            y, info = y.to(device), {"method": name, "checkpoint": ckpt}
            if rebin:
                y, cover = _rebinned_for(model, geometry, y)
                info.update(rebinned_to=model.geometry.to_dict(), rebin_coverage=cover)
            rec = method.reconstruct(A_model, y, progress=show)
            return rec.image, info, {k: v.cpu() for k, v in rec.parts.items()}

        return solve_learned
    method = methods.create(name, method_settings(name, args))

    def solve(y):
        rec = method.reconstruct(A, y.to(device), progress=show)
        return rec.image, {**rec.info, "method": name, "solver": rec.info.get("method", name)}, {}

    return solve


def _warn_unconverged(name: str, info: dict) -> None:
    if info.get("converged") is False and float(info.get("tol") or 0) > 0:
        logging.getLogger(__name__).warning(
            f"{methods.label(name)} stopped at its iteration limit ({info['iterations']}) before its tolerance "
            f"{info['tol']:g}: it has not converged; raise --iters")


def reconstruct(name: str, scan, args):
    """Run one method on a scan; returns (reconstruction (M, N, N), settings, extra arrays)."""
    device = device_of(getattr(args, "device", None))
    image, info, extra = make_solver(name, scan.geometry, args, device)(scan.sinogram)
    _warn_unconverged(name, info)
    return image, info, extra


_METRIC_LABELS = {"re": "RE", "psnr": "PSNR", "ssim": "SSIM", "haarpsi": "HaarPSI"}


def angles_from_args(args, count: int) -> np.ndarray | None:
    """Radians from ``--start/--range/--step`` (degrees) for ``count`` views; None when none is given."""
    start, rng, step = args.start, args.range, args.step
    if rng is None and step is None:
        if start is not None:
            raise UsageError("--start needs --range or --step (degrees)")
        return None
    if rng is not None and step is not None and round(rng / step) != count:
        raise UsageError(f"the scan has {count} views, but --range {rng:g} / --step {step:g} gives "
                         f"{round(rng / step)}; fix one of them")
    step = step if step is not None else rng / count
    if not np.isfinite(step) or step == 0:
        raise UsageError(f"--step must be a non-zero number of degrees, got {step!r}")
    return np.deg2rad((start or 0.0) + step * np.arange(count))


def scan_geometry(args, shape: tuple[int, int, int], file_angles):
    """The :class:`~ltl.Geometry` of measured projections ``shape = (V, R, D)`` from the options."""
    from ..geometry import Geometry

    v, _, d = shape
    angles = angles_from_args(args, v)
    if angles is None:
        if file_angles is None:
            raise UsageError("the scan file holds no angles; give them with --start, --range and --step (degrees)")
        angles = np.asarray(file_angles, dtype=np.float64)
    if angles.size != v:
        raise UsageError(f"the scan has {v} views but {angles.size} angles")
    fan = (args.source_origin, args.origin_det)
    if (fan[0] is None) != (fan[1] is None):
        raise UsageError("a fan beam needs both --source-origin and --origin-det (mm)")
    if args.voxel is not None and args.det_pixel is None:
        raise UsageError("--voxel needs --det-pixel (both in mm)")
    if fan[0] is not None and args.det_pixel is None:
        raise UsageError("a fan beam needs the detector pixel pitch --det-pixel (mm)")
    mag = (fan[0] + fan[1]) / fan[0] if fan[0] is not None and fan[0] > 0 else 1.0
    voxel = args.voxel if args.voxel is not None else (args.det_pixel / mag if args.det_pixel else None)
    spacing = args.det_pixel / voxel if voxel else 1.0
    size = args.size if args.size is not None else int(d * spacing / mag)
    try:
        if fan[0] is not None:
            return Geometry(size, angles, det_count=d, det_spacing=spacing, source_origin=fan[0] / voxel,
                            origin_det=fan[1] / voxel)
        return Geometry(size, angles, det_count=d, det_spacing=spacing)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _rows(spec: str | None, count: int) -> slice:
    if spec is None:
        return slice(None)
    try:
        parts = [int(p) if p.strip() else None for p in spec.split(":")]
        sl = slice(*parts) if len(parts) in (2, 3) else slice(parts[0], parts[0] + 1)
    except ValueError:
        raise UsageError(f"--rows {spec!r}: give A:B (detector rows A to B−1) or one row") from None
    if not range(count)[sl]:
        raise UsageError(f"--rows {spec} selects no detector row of {count}")
    return sl


def preprocess_settings(args) -> PreprocessSettings:
    cor = args.cor if args.cor is not None else PreprocessSettings.center
    if cor != "auto":
        try:
            cor = float(cor)
        except ValueError:
            raise UsageError(f"--cor must be a number of detector pixels or 'auto', got {args.cor!r}") from None
    try:
        return PreprocessSettings(log=args.log, clip=args.clip, det_offset=args.det_offset, center=cor,
                                  rings=args.rings, ring_size=args.ring_size)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _measured_geometry(args, stack):
    if stack.geometry is not None:
        given = [f"--{k.replace('_', '-')}" for k in _GEOMETRY if getattr(args, k) is not None]
        if given:
            raise UsageError(f"{Path(str(args.scan)).name} holds its geometry; drop {', '.join(given)}")
        return stack.geometry
    return scan_geometry(args, stack.shape, stack.angles)


def _run_volume(args, out: Path, png: Path | None) -> int:
    """Measured projections → a volume, slice batch by slice batch (:mod:`ltl.methods.volume`)."""
    import torch

    from ..data.io import file_identity, open_projections, read_images
    from ..metrics import all_metrics
    from ..methods.volume import reconstruct_volume
    from ..runtime import distributed as D

    stack = open_projections(args.scan, layout=args.layout, dataset=args.dataset, flats=args.flats, darks=args.darks)
    rows = range(stack.shape[1])[_rows(args.rows, stack.shape[1])]
    geometry = _measured_geometry(args, stack)
    pre = preprocess_settings(args)
    if stack.darks is not None and stack.flats is None:
        raise UsageError("dark fields were given without flat fields; give --flats too")
    volume = VolumeSettings(batch_slices=args.batch_slices)  # checked by run()
    truth = None
    if args.truth is not None:
        truth, _ = read_images(args.truth)
        want = (len(rows), *geometry.image_shape)
        if truth.shape != want:
            raise UsageError(f"--truth {args.truth} holds images of shape {truth.shape}; the reconstruction is {want}")
    learned = methods.get(args.method).learned
    key = {"scan": file_identity(args.scan), "flats": file_identity(args.flats), "darks": file_identity(args.darks),
           "layout": args.layout, "dataset": args.dataset, "method": args.method,
           "method_settings": method_settings(args.method, args), "noise": args.noise,
           "checkpoint": file_identity(args.checkpoint) if learned and args.checkpoint else None}
    from_args = stack.geometry is None and angles_from_args(args, stack.shape[0]) is not None
    meta = {"scan": str(args.scan), "source": stack.meta, "rows": [rows.start, rows.stop, rows.step],
            "angles_from": "command line" if from_args else "file"}
    sums: dict[str, float] = {}
    first: list = []

    def on_batch(r: range, images):
        rec = torch.from_numpy(images)
        if not first:
            first.append(rec[0].clone())
        if truth is not None:
            i = len(range(rows.start, r.start, rows.step))
            for k, v in all_metrics(rec.clamp(0, 1), torch.from_numpy(truth[i:i + len(r)])).items():
                sums[k] = sums.get(k, 0.0) + float(v.sum())

    try:
        dist = D.setup(args.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    try:
        one_batch = len(rows) <= volume.batch_slices  # else the bar over slices is enough
        solve = make_solver(args.method, geometry, args, dist.device, progress=not args.no_progress and one_batch)
        res = reconstruct_volume(stack, geometry, solve, out, rows=rows, preprocessing=pre, settings=volume, key=key,
                                 meta=meta, overwrite=args.overwrite, restart=args.restart,
                                 progress=not args.no_progress, dist=dist, on_batch=on_batch)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        D.teardown(dist)
    if res.path is None:
        return 0
    _warn_unconverged(args.method, res.meta)
    for step in res.meta.get("preprocessing", []):
        if step["step"] == "center" and step["estimated"]:
            print(f"centre of rotation: {step['pixels']:+.2f} detector pixels ({step['estimated']} estimate; "
                  f"--cor {step['pixels']:.2f} reuses it)")
    resumed = f", {res.resumed} of them resumed" if res.resumed else ""
    ranks = f" on {dist.world_size} processes" if dist.world_size > 1 else ""
    msg = (f"wrote {out}: {args.method} of {res.slices} slice(s) in {res.seconds:.2f} s, batches of "
           f"{volume.batch_slices}{resumed}{ranks}")
    if truth is not None:
        msg += " | " + ", ".join(f"{_METRIC_LABELS.get(k, k)} {v / res.slices:.4f}" for k, v in sums.items())
    print(msg)
    if png is not None:
        from ..plotting import save_montage

        save_montage(png, {methods.label(args.method): first[0]},
                     truth=torch.from_numpy(truth[0]) if truth is not None else None,
                     title=f"{Path(str(args.scan)).name}", geometry=geometry, replace=args.overwrite)
        print(f"wrote {png}")
    return 0


def _truth(args, scan):
    import torch

    from ..data.io import read_images

    images, _ = read_images(args.truth)
    want = (scan.sinogram.shape[0], *scan.geometry.image_shape)
    if images.shape != want:
        raise UsageError(f"--truth {args.truth} holds images of shape {images.shape}; the reconstruction is {want}")
    return torch.from_numpy(images)


def run(args) -> int:
    from ..data import load_scan
    from ..data.io import OUTPUT_SUFFIXES, write_reconstruction
    from ..metrics import all_metrics

    out = Path(args.out)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"--out {out.name}: ltl writes {', '.join(OUTPUT_SUFFIXES)}")
    inputs = [str(args.scan), args.flats, args.darks, args.truth, args.checkpoint]
    check_out(out, args.overwrite, inputs=inputs)
    png = Path(args.png) if args.png else None
    if png is not None:
        check_out(png, args.overwrite, inputs=inputs + [out], suffixes={".png"}, option="--png")
    if args.method not in CHOICES:
        raise UsageError(f"unknown method {args.method!r}; valid methods: {', '.join(CHOICES)}")
    try:  # checked here for every scan, though only stacks are cut into batches
        VolumeSettings(batch_slices=args.batch_slices)
    except ValueError as exc:
        raise UsageError(f"--batch-slices: {exc}") from exc
    measured = [k for k in _MEASURED if getattr(args, k) not in (None, False, 0.0)]
    is_npz = Path(str(args.scan)).suffix.lower() == ".npz"
    if not (is_npz and not measured):
        return _run_volume(args, out, png)
    scan = load_scan(args.scan)
    if args.truth is not None:
        scan = type(scan)(scan.sinogram, scan.geometry, _truth(args, scan), scan.meta)
    if args.noise is None and isinstance((scan.meta or {}).get("noise"), (int, float)) and scan.meta["noise"] > 0:
        args.noise = float(scan.meta["noise"])
    t0 = time.perf_counter()
    try:
        rec, settings, extra = reconstruct(args.method, scan, args)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    seconds = time.perf_counter() - t0
    rec = rec.cpu()
    settings["seconds"] = seconds
    settings["scan"] = str(args.scan)
    write_reconstruction(out, rec, scan.geometry, settings, overwrite=args.overwrite, **extra)
    for step in (scan.meta or {}).get("preprocessing", []):
        if step["step"] == "center" and step["estimated"]:
            print(f"centre of rotation: {step['pixels']:+.2f} detector pixels ({step['estimated']} estimate; "
                  f"--cor {step['pixels']:.2f} reuses it)")
    msg = f"wrote {out}: {args.method} of {rec.shape[0]} slice(s) in {seconds:.2f} s"
    if scan.images is not None:
        m = all_metrics(rec.clamp(0, 1), scan.images)
        msg += " | " + ", ".join(f"{_METRIC_LABELS.get(k, k)} {float(v.mean()):.4f}" for k, v in m.items())
    print(msg)
    if png is not None:
        from ..plotting import save_montage

        truth = scan.images[0] if scan.images is not None else None
        save_montage(png, {methods.label(args.method): rec[0]}, truth=truth, title=f"{Path(str(args.scan)).name}",
                     geometry=scan.geometry, replace=args.overwrite)
        print(f"wrote {png}")
    return 0


#: What ``ltl reconstruct`` runs: the model-based methods and LtI (the learned baselines run in ``ltl evaluate``).
CHOICES = methods.names(learned=False) + ("ltl", "ltl-refined")

_HELP = """\
SCAN is ltl's scan file (.npz), a TIFF stack (one file, a folder or a glob of single pages), or an
HDF5/NeXus file (NXtomo with image_key, Data Exchange /exchange/data, or file.h5:/path/to/data).
A 3D stack is views × detector rows × detector columns (--layout projections) or one sinogram per
row (--layout sinograms); every detector row is one slice. Angles on the command line are in
degrees; ltl works in radians. Example:

  ltl reconstruct proj.tif --flats flat.tif --darks dark.tif --start -60 --range 120 --step 1 \\
      --method tv --out rec.tif

Volumes: the rows are reconstructed in batches of --batch-slices; each batch reads only its rows
(of the projections, flats and darks), so memory grows with the batch, not with the volume.
Finished batches are kept in .OUT.partial/ beside the output, which appears only when complete;
after a kill, the same command resumes where it stopped (a different one is refused; --restart
discards the old batches). Under torchrun the batches are shared among the processes and rank 0
writes the one output (the processes must share the output's file system):

  torchrun --nproc_per_node 4 -m ltl reconstruct proj.tif --flats flat.tif --start-angle 0 --range 180 \\
      --out rec.h5

(torchrun's own parser takes --start and --log for its options: write --start-angle and
--minus-log after it.)
"""


def add_parser(sub) -> None:
    from ..data.io import LAYOUTS

    s = sub.add_parser("reconstruct", help="reconstruct a scan file or a projection stack", description=_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("scan", help="scan: .npz, TIFF stack, or HDF5/NeXus file")
    s.add_argument("--method", default="fbp", help=f"one of {', '.join(CHOICES)} [fbp]")
    m = s.add_argument_group("measured projections")
    m.add_argument("--flats", default=None, help="flat (open-beam) fields: TIFF or HDF5 (F × rows × cols)")
    m.add_argument("--darks", default=None, help="dark fields: TIFF or HDF5")
    m.add_argument("--layout", default="projections", choices=LAYOUTS,
                   help="order of a 3D TIFF stack or dataset [projections: views × rows × cols]")
    m.add_argument("--dataset", default=None, help="HDF5 dataset of the projections [NXtomo or /exchange/data]")
    m.add_argument("--rows", default=None, help="detector rows (slices) to reconstruct, A:B [all]")
    v = s.add_argument_group("volumes (a stack of detector rows is reconstructed in slice batches)")
    v.add_argument("--batch-slices", type=int, default=VolumeSettings.batch_slices,
                   help="slices per batch: memory grows with the batch, not the volume "
                        f"[{VolumeSettings.batch_slices}]")
    v.add_argument("--restart", action="store_true",
                   help="discard the partial result of an interrupted run of another command for --out "
                        "(the same command resumes it without this)")
    a = s.add_argument_group("angles, in degrees (instead of those in the file)")
    a.add_argument("--start", "--start-angle", dest="start", type=float, default=None,
                   help="angle of the first view in degrees [0] (--start-angle under torchrun, which takes "
                        "--start for its own --start-method)")
    a.add_argument("--range", type=float, default=None, help="angular range in degrees (views × step)")
    a.add_argument("--step", type=float, default=None, help="angular step in degrees; negative turns the other way")
    g = s.add_argument_group("geometry (a parallel beam unless --source-origin is given)")
    g.add_argument("--size", type=int, default=None, help="image size N in pixels [the detector width at the axis]")
    g.add_argument("--det-pixel", type=float, default=None, help="detector pixel pitch in mm")
    g.add_argument("--voxel", type=float, default=None, help="image pixel size in mm [det-pixel / magnification]")
    g.add_argument("--source-origin", type=float, default=None, help="fan beam: source to rotation axis in mm")
    g.add_argument("--origin-det", type=float, default=None, help="fan beam: rotation axis to detector in mm")
    p = s.add_argument_group("preprocessing (applied in this order, recorded in the output)")
    p.add_argument("--log", "--minus-log", dest="log", default=PreprocessSettings.log,
                   action=argparse.BooleanOptionalAction,
                   help="take −ln of the data [when --flats are given, or the file holds intensities] "
                        "(--minus-log/--no-minus-log under torchrun, which takes --log for its --log-dir)")
    p.add_argument("--clip", type=float, default=PreprocessSettings.clip,
                   help="floor for non-positive transmissions before −ln [smallest positive value]")
    p.add_argument("--rings", action="store_true", help="suppress ring artefacts (stripes in the sinogram)")
    p.add_argument("--ring-size", type=int, default=PreprocessSettings.ring_size,
                   help=f"median window of --rings in detector pixels [{PreprocessSettings.ring_size}]")
    p.add_argument("--det-offset", type=float, default=PreprocessSettings.det_offset,
                   help="detector offset in detector pixels [0]")
    p.add_argument("--cor", default=None,
                   help="centre-of-rotation offset in detector pixels, or 'auto' to estimate it [0]")
    r = s.add_argument_group("method settings")
    r.add_argument("--filter", default=methods.FBPSettings.filter, choices=["ram-lak", "shepp-logan", "cosine", "hann"],
                   help=f"FBP filter window [{methods.FBPSettings.filter}]")
    r.add_argument("--lam", type=float, default=None,
                   help="λ of tv and l1 [a default that scales with the noise level]")
    r.add_argument("--noise", type=float, default=None,
                   help="relative noise η of the data, for the default λ [from the scan file, else estimated]")
    r.add_argument("--iters", type=int, default=None, help="maximal iterations of sirt, cgls, tv, l1 [the solver's]")
    r.add_argument("--tol", type=float, default=None,
                   help=f"relative-change tolerance of tv and l1 [{TVSettings.tol:g}, {L1Settings.tol:g}]")
    r.add_argument("--scales", type=int, default=None, help="shearlet scales of l1 [chosen for N]")
    r.add_argument("--checkpoint", default=None,
                   help="LtI model directory for --method ltl (RUN_DIR/model or RUN_DIR/best from ltl train)")
    s.add_argument("--truth", default=None, help="ground-truth images for metrics: TIFF, DICOM series, .npz")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--device", default=None, help="cpu or cuda [cuda when available]")
    s.add_argument("--out", required=True, help="reconstruction to write: .npz, .tif/.tiff or .h5/.hdf5")
    s.add_argument("--png", default=None, help="also write a picture of the first slice")
    s.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    s.set_defaults(func=run)
