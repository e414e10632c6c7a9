"""Phantoms, simulated scans, and scan/reconstruction files."""

from .phantoms import block_mean, load_images, random_ellipses, shepp_logan
from .simulate import PHANTOMS, Scan, add_noise, simulate, simulate_phantoms
from .dataset import (TEST_SEEDS, TRAIN_SEEDS, VAL_SEEDS, LtIDataset, check_disjoint, dataset_info,
                      make_dataset, merge_shards, split_of)
from .scanfile import load_reconstruction, load_scan, save_reconstruction, save_scan

__all__ = ["block_mean", "load_images", "random_ellipses", "shepp_logan", "PHANTOMS", "Scan", "add_noise",
           "simulate", "simulate_phantoms", "load_reconstruction", "load_scan", "save_reconstruction", "save_scan",
           "TEST_SEEDS", "TRAIN_SEEDS", "VAL_SEEDS", "LtIDataset", "check_disjoint", "dataset_info", "make_dataset",
           "merge_shards", "split_of"]
