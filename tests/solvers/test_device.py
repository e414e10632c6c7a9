"""The solvers follow the data's device (CUDA only where available)."""

import pytest

from ltl.solvers import cgls, l1_shearlet, sirt, tv


@pytest.mark.gpu
def test_cuda_matches_cpu(op, frame, data):
    y = data[0]
    for name, run in {
        "l1": lambda yy: l1_shearlet(op, frame, yy, 0.5, iters=100, tol=0),
        "tv": lambda yy: tv(op, yy, 2.0, iters=100, tol=0),
        "sirt": lambda yy: sirt(op, yy, 50),
        "cgls": lambda yy: cgls(op, yy, 10),
    }.items():
        xc, ic = run(y)
        xg, ig = run(y.cuda())
        assert xg.device.type == "cuda", name
        # ASTRA's GPU kernels differ from the CPU ones by ~1e-3 relative; 100 unconverged PDHG
        # iterations carry that further (l1: 2.1e-2 measured on an H100), SIRT and CGLS less
        tol = 5e-2 if name in ("l1", "tv") else 2e-2
        assert float((xg.cpu() - xc).norm() / xc.norm()) < tol, name
