"""Fan beam: the geometry, the operator against plain ASTRA, its adjoint, and FBP against an
independent reference and against the phantom."""

import math

import astra
import numpy as np
import pytest
import torch

from ltl import Geometry, RadonOperator, fbp
from ltl.data import random_ellipses, shepp_logan
from ltl.operators.fanbeam import fan_angles, redundancy_weights

FAN = Geometry.fan_beam(64, source_origin=150, origin_det=100, step_deg=2)


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


# ----------------------------------------------------------------------------- geometry
def test_fan_geometry_defaults_and_round_trips():
    g = Geometry.fan_beam(128, source_origin=400, origin_det=200)
    assert g.is_fan and g.beam == "fan" and g.num_angles == 360
    assert g.det_spacing == pytest.approx(1.5) and g.magnification == pytest.approx(1.5)
    # the default detector covers the fan through the image's circumscribed circle
    half = g.det_count * g.det_spacing / 2
    assert math.atan(half / 600) >= math.asin(128 / math.sqrt(2) / 400)
    for h in (g, Geometry.fan_beam(32, source_origin=60, origin_det=0, angular_range_deg=200, step_deg=0.5,
                                   start_deg=-100, det_count=50, det_spacing=1.2)):
        assert Geometry.from_dict(h.to_dict()) == h and Geometry.from_json(h.to_json()) == h
        assert eval(repr(h), {"Geometry": Geometry, "np": np}) == h
        assert h != Geometry(h.image_size, h.angles, det_count=h.det_count, det_spacing=h.det_spacing)
    # a parallel geometry's dict keeps exactly its former keys (stored models stay readable)
    assert set(Geometry.limited_angle(32).to_dict()) == {"image_size", "angles", "det_count", "det_spacing"}
    assert Geometry.limited_angle(32).full_angle().angular_range_deg == pytest.approx(180)
    assert FAN.full_angle().angular_range_deg == pytest.approx(360)


@pytest.mark.parametrize("g", [FAN, Geometry.limited_angle(40, angular_range_deg=150, step_deg=3, det_count=50,
                                                           det_spacing=1.25)])
def test_astra_dicts_round_trip(g):
    proj, vol = g.to_astra()
    assert proj["type"] == ("fanflat" if g.is_fan else "parallel")
    assert Geometry.from_astra(proj, vol) == g
    vec = astra.geom_2vec(proj)  # the vector form of the same scan
    h = Geometry.from_astra(vec, vol)
    np.testing.assert_allclose(h.angles, g.angles, atol=1e-12)
    assert (h.det_count, h.source_origin is None) == (g.det_count, g.source_origin is None)
    assert h.det_spacing == pytest.approx(g.det_spacing)


def test_from_astra_refuses_what_it_cannot_hold():
    proj, vol = FAN.to_astra()
    vec = astra.geom_2vec(proj)
    vec["Vectors"][:, 2] += 3.0  # a shifted detector
    with pytest.raises(ValueError, match="shifted or tilted"):
        Geometry.from_astra(vec, vol)
    with pytest.raises(ValueError, match="vol_geom"):
        Geometry.from_astra(proj, astra.create_vol_geom(64, 64, -10, 10, -10, 10))
    with pytest.raises(ValueError, match="not a 2D parallel or fanflat"):
        Geometry.from_astra(astra.create_proj_geom("parallel3d", 1, 1, 4, 4, [0.0]), vol)


@pytest.mark.parametrize("kw, match", [
    (dict(source_origin=10, origin_det=5), "inside the image"),
    (dict(source_origin=-100, origin_det=5), "source_origin"),
    (dict(source_origin=100, origin_det=-1), "origin_det"),
    (dict(source_origin=100, origin_det=10, step_deg=0), "step_deg"),
])
def test_bad_fan_geometry(kw, match):
    with pytest.raises(ValueError, match=match):
        Geometry.fan_beam(32, **kw)
    with pytest.raises(ValueError, match="both"):
        Geometry(32, [0.0, 1.0], source_origin=100.0)


# ----------------------------------------------------------------------------- operator
@pytest.mark.parametrize("kind", ["line", "strip"])
def test_forward_and_back_equal_plain_astra(kind, rng):
    img = rng.random(FAN.image_shape).astype(np.float32)
    sino = rng.random(FAN.sino_shape).astype(np.float32)
    A = RadonOperator(FAN, projector=kind)
    pid = astra.create_projector(f"{kind}_fanflat", *FAN.to_astra())
    try:
        sid, ref = astra.create_sino(img, pid)
        bid, bref = astra.create_backprojection(sino, pid)
        astra.data2d.delete([sid, bid])
    finally:
        astra.projector.delete(pid)
    assert rel(A(torch.from_numpy(img)).numpy(), ref) < 1e-6
    assert rel(A.T(torch.from_numpy(sino)).numpy(), bref) < 1e-6


@pytest.mark.parametrize("kind", ["line", "strip"])
def test_adjoint_identity(kind, gen):
    A = RadonOperator(FAN, projector=kind)
    x = torch.randn(3, *FAN.image_shape, generator=gen)
    y = torch.randn(3, *FAN.sino_shape, generator=gen)
    lhs = (A(x).double() * y.double()).sum()
    rhs = (x.double() * A.T(y).double()).sum()
    assert abs(lhs - rhs) / abs(lhs) < 1e-5


def test_operator_defaults_and_refusals():
    assert RadonOperator(FAN).projector == "line"
    assert RadonOperator(Geometry.limited_angle(16)).projector == "linear"
    with pytest.raises(ValueError, match="fan beam"):
        RadonOperator(FAN, projector="linear")


def test_fan_ray_is_the_parallel_ray_theta_beta_minus_gamma(rng):
    # The convention the rebinning and the FBP rest on, checked against ASTRA's own projections:
    # the fan ray (β, u) is the parallel ray θ = β − γ, t = R sin γ.
    from scipy.ndimage import gaussian_filter, map_coordinates

    img = gaussian_filter(rng.random((64, 64)), 2).astype(np.float32)
    par = Geometry(64, np.deg2rad(np.arange(0, 360, 0.25)), det_count=400, det_spacing=0.25)
    yp = RadonOperator(par)(torch.from_numpy(img)).numpy()
    yf = RadonOperator(FAN)(torch.from_numpy(img)).numpy()
    gam = fan_angles(FAN)[None, :]
    theta = np.mod(FAN.angles[:, None] - gam, 2 * np.pi)
    t = FAN.source_origin * np.sin(gam) * np.ones_like(theta)
    est = map_coordinates(yp, [theta / np.deg2rad(0.25), t / 0.25 + 199.5], order=1, mode="grid-wrap")
    assert rel(est, yf) < 0.02
    est_wrong = map_coordinates(yp, [np.mod(FAN.angles[:, None] + gam, 2 * np.pi) / np.deg2rad(0.25),
                                     t / 0.25 + 199.5], order=1, mode="grid-wrap")
    assert rel(est_wrong, yf) > 0.1


# ----------------------------------------------------------------------------- FBP
def _reference_fbp(g: Geometry, sino: np.ndarray) -> np.ndarray:
    """Kak & Slaney (1988) eq. 3.96–3.98, equally spaced collinear detectors, a full turn: a plain
    per-view loop with a spatial-domain convolution and np.interp, written apart from ltl's code."""
    r, sdd = g.source_origin, g.source_origin + g.origin_det
    d = g.det_count
    ds = g.det_spacing * r / sdd  # detector spacing at the axis
    s = (np.arange(d) - (d - 1) / 2) * ds
    n = np.arange(-(d - 1), d)
    h = np.zeros(n.size)
    h[n == 0] = 1 / (4 * ds ** 2)
    odd = n % 2 == 1
    h[odd] = -1 / (np.pi * n[odd] * ds) ** 2
    g_kernel = h / 2  # g(s) = h(s)/2 for a full turn
    c = np.arange(g.image_size) - (g.image_size - 1) / 2
    x, y = np.meshgrid(c, -c)
    out = np.zeros_like(x)
    dbeta = 2 * np.pi / g.num_angles
    for k, beta in enumerate(g.angles):
        weighted = sino[k] * r / np.sqrt(r ** 2 + s ** 2)
        q = np.convolve(weighted, g_kernel)[d - 1:2 * d - 1] * ds
        src = np.array([r * np.sin(beta), -r * np.cos(beta)])
        along = (x - src[0]) * -np.sin(beta) + (y - src[1]) * np.cos(beta)
        across = (x - src[0]) * np.cos(beta) + (y - src[1]) * np.sin(beta)
        u = r * across / along
        out += np.interp(u, s, q, left=0.0, right=0.0) * (r / along) ** 2 * dbeta
    return out


def test_full_scan_fbp_matches_an_independent_reference():
    g = Geometry.fan_beam(48, source_origin=120, origin_det=60, step_deg=3)
    x = shepp_logan(48)
    y = RadonOperator(g)(x)
    ours = fbp(RadonOperator(g), y)[0].numpy()
    ref = _reference_fbp(g, y[0].numpy())
    assert rel(ours, ref) < 1e-3


@pytest.fixture(scope="module")
def phantom():
    return torch.cat([shepp_logan(96).reshape(1, 96, 96), random_ellipses(1, 96, seed=5)]).float()


def test_fbp_reconstructs_like_parallel_beam_fbp(phantom):
    par = Geometry.limited_angle(96, angular_range_deg=180, step_deg=1)
    e_par = rel(fbp(RadonOperator(par), RadonOperator(par)(phantom)), phantom)
    for fan in (Geometry.fan_beam(96, source_origin=250, origin_det=150),
                Geometry.fan_beam(96, source_origin=110, origin_det=110)):  # a 70° fan
        A = RadonOperator(fan)
        rec = fbp(A, A(phantom))
        assert rel(rec, phantom) < 1.2 * e_par
        assert abs(float(rec.mean() / phantom.mean()) - 1) < 0.01  # intensities are right


def test_short_scan_parker_weights(phantom, monkeypatch):
    full = Geometry.fan_beam(96, source_origin=200, origin_det=100)
    short_range = 180 + full.fan_angle_deg + 2
    short = Geometry.fan_beam(96, source_origin=200, origin_det=100, angular_range_deg=short_range, start_deg=40)
    w = redundancy_weights(short).numpy()
    assert w.min() >= 0 and w.max() <= 1 and (w < 0.5).any() and (w == 1).any()
    rec_full = fbp(RadonOperator(full), RadonOperator(full)(phantom))
    A = RadonOperator(short)
    rec_short = fbp(A, A(phantom))
    assert rel(rec_short, rec_full) < 0.05
    # without the weights the doubly measured rays count twice: far worse
    from ltl.operators import fanbeam

    monkeypatch.setattr(fanbeam, "redundancy_weights", lambda g: torch.ones(g.sino_shape, dtype=torch.float64))
    assert rel(fbp(A, A(phantom)), rec_full) > 0.2


def test_redundancy_weights_of_full_and_limited_scans():
    assert torch.all(redundancy_weights(FAN) == 0.5)
    limited = Geometry.fan_beam(64, source_origin=150, origin_det=100, angular_range_deg=120, start_deg=-60)
    assert torch.all(redundancy_weights(limited) == 1.0)  # no ray is measured twice in 120° + a 30° fan
    short = Geometry.fan_beam(64, source_origin=150, origin_det=100, angular_range_deg=215, step_deg=1)
    w = redundancy_weights(short).numpy()
    # turning the other way mirrors the weights across the detector
    rev = Geometry(64, -short.angles, det_count=short.det_count, det_spacing=short.det_spacing,
                   source_origin=150.0, origin_det=100.0)
    np.testing.assert_allclose(redundancy_weights(rev).numpy(), w[:, ::-1], atol=1e-12)
    # a ray and its conjugate (β + π − 2γ, −γ) share one unit of weight: check on the central
    # detector pixels (γ ≈ 0), whose conjugates lie 180 views later
    mid = short.det_count // 2
    if short.det_count % 2:
        np.testing.assert_allclose(w[:35, mid] + w[180:215, mid], 1.0, atol=1e-9)


def test_limited_angle_fan_scan_solvers_run(phantom):
    from ltl import methods

    g = Geometry.fan_beam(96, source_origin=250, origin_det=150, angular_range_deg=120, start_deg=-60)
    A = RadonOperator(g)
    y = A(phantom[:1])
    e_fbp = rel(methods.create("fbp").reconstruct(A, y).image, phantom[:1])
    tv = methods.create("tv", {"iters": 150}).reconstruct(A, y)
    assert rel(tv.image, phantom[:1]) < 0.8 * e_fbp
    sirt = methods.create("sirt", {"iters": 30}).reconstruct(A, y)
    assert rel(sirt.image, phantom[:1]) < e_fbp


def test_fbp_refuses_scrambled_angles():
    g = Geometry(32, np.deg2rad([0.0, 10.0, 5.0, 20.0]), source_origin=100.0, origin_det=50.0)
    with pytest.raises(ValueError, match="scan order"):
        fbp(RadonOperator(g), torch.zeros(g.sino_shape))


@pytest.mark.gpu
def test_gpu_matches_cpu_and_is_nearly_adjoint(gen):
    A = RadonOperator(FAN)
    x = torch.rand(2, *FAN.image_shape, generator=gen)
    y = torch.rand(2, *FAN.sino_shape, generator=gen)
    fc = A(x.cuda())
    assert fc.is_cuda and rel(fc.cpu(), A(x)) < 2e-2  # ASTRA's cuda kernel is linear, the CPU one a line kernel
    lhs = float((fc.double() * y.cuda().double()).sum())
    rhs = float((x.cuda().double() * A.T(y.cuda()).double()).sum())
    assert abs(lhs - rhs) / abs(lhs) < 1e-3
    assert rel(fbp(A, A(x.cuda())).cpu(), fbp(A, A(x))) < 2e-2


@pytest.mark.gpu
def test_full_scan_fbp_matches_astra_fbp_cuda():
    g = Geometry.fan_beam(128, source_origin=300, origin_det=200, step_deg=0.5)
    x = shepp_logan(128)
    A = RadonOperator(g)
    y = A(x)[0].numpy()
    proj, vol = g.to_astra()
    sid = astra.data2d.create("-sino", proj, y)
    rid = astra.data2d.create("-vol", vol, 0)
    cfg = astra.astra_dict("FBP_CUDA")
    cfg.update(ProjectionDataId=sid, ReconstructionDataId=rid)
    alg = astra.algorithm.create(cfg)
    try:
        astra.algorithm.run(alg)
        ref = astra.data2d.get(rid)
    finally:
        astra.algorithm.delete(alg)
        astra.data2d.delete([sid, rid])
    ours = fbp(A, torch.from_numpy(y).cuda()).cpu().numpy()
    inside = np.hypot(*np.meshgrid(np.arange(128) - 63.5, np.arange(128) - 63.5)) < 60
    assert rel(ours[inside], ref[inside]) < 1e-2
