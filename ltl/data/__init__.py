"""Phantoms, simulated scans, and scan/reconstruction files."""

from .phantoms import (FAMILIES, Mix, block_mean, family_names, generate, load_images, parse_mix, phantom_images,
                       random_ellipses, shepp_logan)
from .simulate import PHANTOMS, Scan, add_noise, simulate, simulate_phantoms
from .dataset import (TEST_SEEDS, TRAIN_SEEDS, VAL_SEEDS, LtIDataset, check_disjoint, dataset_info,
                      make_dataset, merge_shards, split_of)
from .scanfile import load_reconstruction, load_scan, save_reconstruction, save_scan

__all__ = ["block_mean", "load_images", "random_ellipses", "shepp_logan", "FAMILIES", "Mix", "family_names", "generate",
           "parse_mix", "phantom_images", "PHANTOMS", "Scan", "add_noise",
           "simulate", "simulate_phantoms", "load_reconstruction", "load_scan", "save_reconstruction", "save_scan",
           "TEST_SEEDS", "TRAIN_SEEDS", "VAL_SEEDS", "LtIDataset", "check_disjoint", "dataset_info", "make_dataset",
           "merge_shards", "split_of"]
