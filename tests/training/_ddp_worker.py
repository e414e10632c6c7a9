"""Run by torch.multiprocessing in test_distributed.py: one rank of a 2-process gloo job."""

import os


def _env(rank, world, port):
    import torch

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))


def train_rank(rank, world, port, config_kwargs, out_dir):
    import torch

    _env(rank, world, port)
    from ltl.training import TrainConfig, train

    res = train(TrainConfig(**config_kwargs))
    torch.save({k: v.detach().cpu() for k, v in res.model.state_dict().items()}, os.path.join(out_dir, f"rank{rank}.pt"))


def dataset_rank(rank, world, port, kwargs):
    _env(rank, world, port)
    import ltl.data.dataset as dd
    from ltl import Geometry

    kwargs = dict(kwargs, geometry=Geometry.from_dict(kwargs["geometry"]))
    out = dd.make_dataset(**kwargs)
    assert str(out) == str(kwargs["path"]), out
