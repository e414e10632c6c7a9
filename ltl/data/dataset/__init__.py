"""On-disk training data for LtI: phantoms, sinograms and l1-shearlet reconstructions in HDF5.

File layout (one HDF5 file, written by :func:`make_dataset`; see :mod:`.schema`)
-------------------------------------------------------------------------------
``truth``     ``(M, N, N)`` float32  ground truth on the reconstruction grid (2×2 block means of the
              phantom rasterised on the 2× grid the data were projected from)
``sinogram``  ``(M, V, D)`` float32  noisy sinogram
``f_vis``     ``(M, N, N)`` float32  l1-shearlet reconstruction (:func:`ltl.solvers.l1_shearlet`), the
              network's input
``seed``      ``(M,)``     int64    sample seed: phantom seed and noise seed
``done``      ``(M,)``     bool     set once the sample's chunk is written completely
``family``    ``(M,)``     str      only for a mix of families: each sample's phantom family
attribute ``settings``     JSON: format, geometry, phantom, noise, photons, oversample, seed ranges,
              chunk, solver settings (``{"method": "l1_shearlet", **L1Settings.to_dict()}``), frame
              settings (:func:`ltl.shearlets.settings.frame_settings_of`), ltl version; for a mix
              also ``mix`` (families, weights and the draw rule), for crops of a user's images
              ``images`` (folder name, files, digest)
attribute ``geometry``     JSON of the geometry (also inside ``settings``), for quick inspection

Phantoms (:mod:`.plan`)
-----------------------
``phantom`` is one family of :data:`ltl.data.phantoms.FAMILIES` (sample seed s is that family's
phantom s), ``'shepp-logan'`` (the fixed phantom, only the noise varies), ``'crops:PATH'``, or a mix
``'mix:ellipses=1,polygons=1,...'`` (``'mix:all,-vessels'``: every family but one): each sample's
family is drawn from its seed and the weights (:data:`ltl.data.phantoms.DRAW_RULE`), so a seed
always gives the same phantom, whatever the file, and leaving a family out of the training mix
keeps it unseen. A bad mix is refused with one line before any file exists.

Sample seeds (:mod:`.seeds`)
----------------------------
The file holds ``count`` samples with seeds ``seed .. seed+count−1`` (phantom i uses seed
``seed+i``, as :func:`ltl.data.simulate_phantoms`), then ``val_count`` samples from
``VAL_SEEDS.start`` and ``test_count`` from ``TEST_SEEDS.start``. A sample belongs to the split
whose seed range holds its seed (:data:`TRAIN_SEEDS`, :data:`VAL_SEEDS`, :data:`TEST_SEEDS`), so
splits never overlap, within one file or across files. Noise is drawn per sample with
``add_noise(seed=sample seed)``, so a sample does not depend on the chunking, the rank or the
other samples (unlike one ``simulate_phantoms`` call over many phantoms).

Resuming and sharding (:mod:`.writer`, :mod:`.shards`)
------------------------------------------------------
Samples are computed in chunks of ``chunk`` (chunk k = samples ``k·chunk .. (k+1)·chunk−1``); a
chunk's ``done`` flags are set only after its arrays are flushed, so a rerun of the same call
skips finished chunks and recomputes the rest. A file made with other settings is refused.

With ``world_size`` W > 1 (taken from torchrun's ``RANK``/``WORLD_SIZE`` by default) rank K
computes the chunks k ≡ K (mod W) and writes them to its own shard ``<stem>.rankK<suffix>``
(one writer per HDF5 file, no parallel HDF5 needed). When a process group is available
(torchrun sets ``MASTER_ADDR``; a gloo group is created if none exists), all ranks meet at a
barrier and rank 0 merges the shards into ``path`` (:func:`merge_shards`) and deletes them;
otherwise run :func:`merge_shards` (``ltl dataset merge``) once every rank has finished.
A process killed inside an HDF5 write can leave an unreadable file: it is reported as such
(``ValueError``); delete it (or the shard) and rerun.

Reading (:mod:`.torch_dataset`)
-------------------------------
:class:`LtIDataset` serves a file's samples (optionally one split) as a torch ``Dataset``;
:func:`dataset_info` summarises a file; :func:`check_disjoint` refuses overlapping datasets.
h5py is imported only when a file is opened or created.
"""

from .schema import DATASET_PHANTOMS, FORMAT, FORMAT_VERSION
from .seeds import SPLITS, TEST_SEEDS, TRAIN_SEEDS, VAL_SEEDS, split_of
from .shards import merge_shards, shard_path
from .plan import PhantomPlan, plan_phantom
from .torch_dataset import LtIDataset, check_disjoint, dataset_info, family_counts
from .writer import make_dataset

__all__ = [
    "TRAIN_SEEDS", "VAL_SEEDS", "TEST_SEEDS", "SPLITS", "FORMAT", "FORMAT_VERSION", "DATASET_PHANTOMS",
    "make_dataset", "merge_shards", "shard_path", "dataset_info", "family_counts", "split_of", "check_disjoint",
    "LtIDataset", "PhantomPlan", "plan_phantom",
]
