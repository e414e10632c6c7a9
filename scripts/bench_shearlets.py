#!/usr/bin/env python
"""Benchmark ShearletFrame forward + adjoint against a plain per-channel complex-FFT implementation.

For each device (CPU, and CUDA when available) and each (batch, N) configuration, times
``frame.adjoint(frame(x))`` (rfft2, one broadcast multiply, one batched irfft2 each way, filters
precomputed on the device) and a naive reference in the same run: ``fft2`` of the images, then for
every channel ``ifft2(F * H_c).real``, and for the adjoint ``Σ_c H_c * fft2(c_c)`` followed by one
``ifft2(...).real``, looping over channels with full complex spectra. CUDA timings synchronise and
warm up first. Reports median seconds (forward and adjoint alone too), the speed-up and the maximum
difference between the two.

Usage: ``python scripts/bench_shearlets.py [--out results/bench_shearlets.json] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from ltl.shearlets import ShearletFrame  # noqa: E402


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    info = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "gpu": None,
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    from _machine import machine  # ltl's and ASTRA's versions, as in the other benchmarks

    return {**machine(), **info}


class NaiveShearlets:
    """Reference: full complex FFTs and a Python loop over channels."""

    def __init__(self, frame: ShearletFrame, device):
        self.h = torch.from_numpy(frame.full_filters()).to(device=device, dtype=torch.float32)
        self.h = self.h.to(torch.complex64)

    def forward(self, x):
        spec = torch.fft.fft2(x)
        return torch.stack([torch.fft.ifft2(spec * h).real for h in self.h], dim=1)

    def adjoint(self, c):
        acc = torch.zeros(c.shape[0], *c.shape[2:], dtype=torch.complex64, device=c.device)
        for i, h in enumerate(self.h):
            acc += h * torch.fft.fft2(c[:, i])
        return torch.fft.ifft2(acc).real


def time_it(fn, device, repeats: int, warmup: int) -> list[float]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t)
    return out


def bench(device, batch: int, n: int, repeats: int, warmup: int) -> dict:
    frame = ShearletFrame(n, device=device)
    naive = NaiveShearlets(frame, device)
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(batch, n, n, generator=g).to(device)
    with torch.no_grad():
        ours = time_it(lambda: frame.adjoint(frame(x)), device, repeats, warmup)
        ref = time_it(lambda: naive.adjoint(naive.forward(x)), device, repeats, warmup)
        c, c_ref = frame(x), naive.forward(x)
        fwd = time_it(lambda: frame(x), device, repeats, warmup)
        adj = time_it(lambda: frame.adjoint(c), device, repeats, warmup)
        diff = float((c - c_ref).abs().max() / c_ref.abs().max())
        recon = float((frame.adjoint(c) - x).norm() / x.norm())
        del c, c_ref
        peak = None
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            frame.adjoint(frame(x))
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() / 2**20
    coeff_mib = batch * frame.num_channels * n * n * 4 / 2**20
    return {
        "device": str(device),
        "batch": batch,
        "N": n,
        "channels": frame.num_channels,
        "ours_s_median": statistics.median(ours),
        "forward_s_median": statistics.median(fwd),
        "adjoint_s_median": statistics.median(adj),
        "ours_s_min": min(ours),
        "naive_s_median": statistics.median(ref),
        "naive_s_min": min(ref),
        "speedup": statistics.median(ref) / statistics.median(ours),
        "max_rel_diff_vs_naive": diff,
        "reconstruction_rel_error": recon,
        "coefficients_MiB": coeff_mib,
        "cuda_peak_MiB": peak,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="results/bench_shearlets.json", help="JSON output path")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 3 on CPU, 50 on CUDA)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up runs (default 1 CPU, 5 CUDA)")
    p.add_argument("--configs", default="8x512,16x256", help="comma-separated BATCHxN (default 8x512,16x256)")
    p.add_argument("--devices", default="auto", help="'auto' (cpu, plus cuda if available), 'cpu' or 'cuda'")
    args = p.parse_args(argv)
    configs = [tuple(int(v) for v in c.lower().split("x")) for c in args.configs.split(",") if c]
    if args.devices == "auto":
        devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    else:
        devices = [torch.device(d) for d in args.devices.split(",")]
    info = machine_info()
    print(f"CPU: {info['cpu']} ({info['logical_cpus']} logical, torch threads {info['torch_threads']}); "
          f"torch {info['torch']}; GPU: {info['gpu'] or 'none'}")
    rows = []
    for dev in devices:
        rep = args.repeats or (50 if dev.type == "cuda" else 3)
        warm = args.warmup if args.warmup is not None else (5 if dev.type == "cuda" else 1)
        for b, n in configs:
            r = bench(dev, b, n, rep, warm)
            r["repeats"] = rep
            rows.append(r)
    hdr = (f"{'device':<7} {'batch':>5} {'N':>5} {'C':>3} {'forward':>11} {'adjoint':>11} {'ours fwd+adj':>14} "
           f"{'naive fwd+adj':>14} {'speedup':>8} {'max rel diff':>12}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['device']:<7} {r['batch']:>5} {r['N']:>5} {r['channels']:>3} "
              f"{r['forward_s_median'] * 1e3:>8.2f} ms {r['adjoint_s_median'] * 1e3:>8.2f} ms "
              f"{r['ours_s_median'] * 1e3:>11.2f} ms {r['naive_s_median'] * 1e3:>11.2f} ms "
              f"{r['speedup']:>7.2f}x {r['max_rel_diff_vs_naive']:>12.1e}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"machine": info, "results": rows}, fh, indent=2)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
