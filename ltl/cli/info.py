"""``ltl info``: versions, ASTRA CUDA support, the device ltl will use, and where the shipped demo
model and sample scans are (a source checkout's ``data/`` or an installed wheel's ``share/ltl``)."""

from __future__ import annotations

import json

__all__ = ["add_parser", "run"]


def run(args) -> int:
    import platform

    import numpy as np
    import torch

    from ..data.samples import samples
    from ..models.shipped import default_checkpoint
    from ..version import __version__
    from ..runtime import astra_cuda_available, default_device, num_workers

    try:
        import astra

        astra_version = astra.__version__
    except ImportError:
        astra_version = "not installed"
    cuda = astra_cuda_available()
    rows = {
        "ltl": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "astra-toolbox": astra_version,
        "ASTRA CUDA": "yes" if cuda else "no",
        "torch CUDA": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no",
        "device": default_device().type,
        "CPU threads": str(num_workers()),
    }
    model = default_checkpoint()
    found = samples()
    folders = sorted({str(p.parent) for p in found.values()})
    rows["demo model"] = str(model) if model is not None else "not found"
    rows["sample scans"] = (f"{', '.join(folders)} ({', '.join(p.name for p in found.values())})" if found
                            else "not found")
    if args.json:
        print(json.dumps(rows))
    else:
        width = max(map(len, rows))
        for k, v in rows.items():
            print(f"{k:<{width}}  {v}")
    return 0


def add_parser(sub) -> None:
    s = sub.add_parser("info", help="versions, ASTRA CUDA support, the device ltl will use, and where the shipped "
                                    "model and sample scans are")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run)
