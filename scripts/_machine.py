"""Describe the machine a benchmark ran on (shared by the scripts under scripts/)."""

from __future__ import annotations

import os
import platform


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    info = {"cpu": cpu, "cores": cores, "python": platform.python_version(), "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    try:
        import astra

        info["astra"] = astra.__version__
        info["astra_cuda"] = bool(astra.use_cuda())
    except ImportError:
        pass
    import ltl

    info["ltl"] = ltl.__version__
    return info


def describe(info: dict) -> str:
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ", no GPU"
    return f"{info['cpu']} ({info['cores']} cores){gpu}; torch {info['torch']}, ASTRA {info.get('astra', '?')}"
