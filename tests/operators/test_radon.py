import astra
import numpy as np
import pytest
import torch

from ltl import Geometry, RadonOperator


def _astra_sino(g: Geometry, img: np.ndarray, kind="linear"):
    pid = astra.create_projector(kind, g.astra_proj_geom(), g.astra_vol_geom())
    sid, sino = astra.create_sino(img.astype(np.float32), pid)
    astra.data2d.delete(sid)
    astra.projector.delete(pid)
    return sino


def _astra_bp(g: Geometry, sino: np.ndarray, kind="linear"):
    pid = astra.create_projector(kind, g.astra_proj_geom(), g.astra_vol_geom())
    bid, bp = astra.create_backprojection(sino.astype(np.float32), pid)
    astra.data2d.delete(bid)
    astra.projector.delete(pid)
    return bp


GEOMS = [Geometry.limited_angle(48, angular_range_deg=120, step_deg=2),
         Geometry.limited_angle(33, angular_range_deg=180, step_deg=3, det_count=40, det_spacing=1.3)]


@pytest.mark.parametrize("g", GEOMS)
@pytest.mark.parametrize("kind", ["linear", "line", "strip"])
def test_forward_equals_plain_astra(g, kind, rng):
    img = rng.random(g.image_shape)
    A = RadonOperator(g, projector=kind)
    ours = A(torch.from_numpy(img).float()).numpy()
    ref = _astra_sino(g, img, kind)
    assert np.linalg.norm(ours - ref) / np.linalg.norm(ref) < 1e-6


@pytest.mark.parametrize("g", GEOMS)
def test_adjoint_equals_plain_astra(g, rng):
    sino = rng.random(g.sino_shape)
    ours = RadonOperator(g).T(torch.from_numpy(sino).float()).numpy()
    ref = _astra_bp(g, sino)
    assert np.linalg.norm(ours - ref) / np.linalg.norm(ref) < 1e-6


@pytest.mark.parametrize("g", GEOMS)
@pytest.mark.parametrize("kind", ["linear", "strip"])
def test_adjoint_identity(g, kind, gen):
    A = RadonOperator(g, projector=kind)
    x = torch.randn(3, *g.image_shape, generator=gen)
    y = torch.randn(3, *g.sino_shape, generator=gen)
    lhs = (A(x).double() * y.double()).sum()
    rhs = (x.double() * A.T(y).double()).sum()
    assert abs(lhs - rhs) / (A.norm() * x.norm() * y.norm()) < 1e-5
    assert abs(lhs - rhs) / abs(lhs) < 1e-5


def test_batch_equals_slices(gen, monkeypatch):
    monkeypatch.setenv("LTL_NUM_THREADS", "2")
    g = GEOMS[0]
    A = RadonOperator(g)
    x = torch.rand(5, *g.image_shape, generator=gen)
    y = torch.rand(5, *g.sino_shape, generator=gen)
    fb, bb = A(x), A.T(y)
    for i in range(5):
        assert torch.equal(fb[i], A(x[i]))
        assert torch.equal(bb[i], A.T(y[i]))


def test_linearity(gen):
    g = GEOMS[1]
    A = RadonOperator(g)
    x1, x2 = torch.rand(2, *g.image_shape, generator=gen)
    torch.testing.assert_close(A(2 * x1 - 3 * x2), 2 * A(x1) - 3 * A(x2), rtol=1e-5, atol=1e-4)


def test_autograd_is_adjoint(gen):
    g = GEOMS[0]
    A = RadonOperator(g)
    x = torch.rand(2, *g.image_shape, generator=gen, requires_grad=True)
    w = torch.randn(2, *g.sino_shape, generator=gen)
    (A(x) * w).sum().backward()
    torch.testing.assert_close(x.grad, A.T(w))
    y = torch.rand(2, *g.sino_shape, generator=gen, requires_grad=True)
    v = torch.randn(2, *g.image_shape, generator=gen)
    (A.T(y) * v).sum().backward()
    torch.testing.assert_close(y.grad, A(v))


def test_gradcheck_double_path(gen):
    # float64 input is projected in float32; torch's gradcheck compares the backward of A and of Aᵀ
    # (the other operator) with central finite differences, loosely because of the float32 rounding.
    g = Geometry.limited_angle(12, angular_range_deg=120, step_deg=10)
    A = RadonOperator(g)
    x = torch.rand(1, 12, 12, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, *g.sino_shape, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(A, (x,), eps=1e-2, atol=1e-3, rtol=1e-3)
    assert torch.autograd.gradcheck(A.T, (y,), eps=1e-2, atol=1e-3, rtol=1e-3)


def test_norm_cached_and_correct():
    g = Geometry.limited_angle(24, angular_range_deg=120, step_deg=4)
    A = RadonOperator(g)
    n = A.norm()
    assert RadonOperator(g).norm() == n  # cached per geometry
    # Independent check: the largest singular value of the explicit matrix.
    M = np.stack([A(torch.from_numpy(e.reshape(24, 24)).float()).numpy().ravel()
                  for e in np.eye(24 * 24, dtype=np.float32)], axis=1)
    assert abs(n - np.linalg.norm(M, 2)) / n < 1e-4
    assert A.T.norm() == n
    assert A.T.T is A


def test_point_makes_straight_sinogram():
    # A centred point projects onto the centre detector at every angle; with the area-exact strip
    # kernel its mass is equal at every angle.
    g = Geometry.limited_angle(32, angular_range_deg=180, step_deg=5, det_count=45)
    img = torch.zeros(32, 32)
    img[15:17, 15:17] = 1.0
    y = RadonOperator(g, projector="strip")(img)
    torch.testing.assert_close(y.sum(dim=1), torch.full((g.num_angles,), 4.0), rtol=1e-4, atol=0)
    for kind in ("strip", "linear", "line"):
        y = RadonOperator(g, projector=kind)(img)
        assert (y.argmax(dim=1) - 22).abs().max() <= 1


def test_oversampled_operator_agrees_with_coarse(gen):
    g = Geometry.limited_angle(32, angular_range_deg=120, step_deg=4)
    coarse = torch.rand(32, 32, generator=gen)
    fine = coarse.repeat_interleave(2, 0).repeat_interleave(2, 1)
    yc = RadonOperator(g)(coarse)
    yf = RadonOperator(g, oversample=2)(fine)
    assert float((yc.sum(1) - yf.sum(1)).abs().max() / yc.sum(1).abs().max()) < 5e-3  # mass per view
    assert float((yc - yf).norm() / yc.norm()) < 0.05


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.zeros(10, 10), "shape"),
        (torch.zeros(2, 3, 48, 48), "shape"),
        (torch.zeros(48), "shape"),
        (torch.zeros(48, 48, dtype=torch.int64), "floating-point"),
    ],
)
def test_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        RadonOperator(GEOMS[0])(bad)


def test_bad_construction():
    with pytest.raises(ValueError, match="projector"):
        RadonOperator(GEOMS[0], projector="cuda3d")
    with pytest.raises(TypeError):
        RadonOperator("not a geometry")
    with pytest.raises(TypeError):
        RadonOperator(GEOMS[0])(np.zeros((48, 48), np.float32))


# --------------------------------------------------------------------------- GPU (ASTRA cuda)
@pytest.mark.gpu
def test_gpu_matches_cpu_and_is_nearly_adjoint(gen):
    g = Geometry.limited_angle(128, angular_range_deg=120)
    A = RadonOperator(g)
    x = torch.rand(1, 128, 128, generator=gen)
    y = torch.rand(1, *g.sino_shape, generator=gen)
    xc, yc = x.cuda(), y.cuda()
    fc = A(xc)
    assert fc.is_cuda
    assert float((fc.cpu() - A(x)).norm() / A(x).norm()) < 1e-3
    lhs = float((A(xc).double() * yc.double()).sum())
    rhs = float((xc.double() * A.T(yc).double()).sum())
    assert abs(lhs - rhs) / abs(lhs) < 1e-3


@pytest.mark.gpu
@pytest.mark.parametrize("n, views", [(128, 120), (256, 120)])
def test_gpu_stack_matches_slices(n, views, gen):
    g = Geometry.limited_angle(n, angular_range_deg=views)
    A = RadonOperator(g)
    x = (torch.rand(6, n, n, generator=gen) - 0.5).cuda()
    y = (torch.rand(6, *g.sino_shape, generator=gen) - 0.5).cuda()
    fb, bb = A(x), A.T(y)  # one 3D stack call each
    fs = torch.stack([A(x[i]) for i in range(6)])  # 2D calls
    bs = torch.stack([A.T(y[i]) for i in range(6)])
    assert float((fb - fs).norm() / fs.norm()) < 3e-3
    assert float((bb - bs).norm() / bs.norm()) < 3e-3
    lhs = float((fb.double() * y.double()).sum())
    rhs = float((x.double() * bb.double()).sum())
    assert abs(lhs - rhs) / (A.norm() * float(x.norm()) * float(y.norm())) < 1e-3


@pytest.mark.gpu
def test_gpu_autograd(gen):
    g = Geometry.limited_angle(64, angular_range_deg=120)
    A = RadonOperator(g)
    x = torch.rand(3, 64, 64, generator=gen).cuda().requires_grad_()
    w = torch.randn(3, *g.sino_shape, generator=gen).cuda()
    (A(x) * w).sum().backward()
    torch.testing.assert_close(x.grad, A.T(w))
