"""Phantoms: a library of seeded, structurally different families, the Shepp–Logan phantom, a user's images.

Every family is a function ``family(count, size, *, seed=0, oversample=1)`` that returns
``(count, k·size, k·size)`` float32 images in [0, 1], zero outside the inscribed disc, rasterised at
the centres of a grid k = ``oversample`` times finer than the N×N reconstruction grid
(N = ``size``): their k×k block means (:func:`block_mean`) are the phantoms on the N grid, and
data projected from the fine grid do not commit the inverse crime. Phantom i depends on
``seed + i`` alone, drawn from its family's own random stream; lengths in the families' notes are
in pixels of the N grid.

=======================  ======================================================================
name                     family
=======================  ======================================================================
``ellipses``             :func:`random_ellipses`: overlapping ellipses, additive intensities
``polygons``             :func:`random_polygons`: piecewise-constant occluding polygons and bars
``low-contrast``         :func:`low_contrast`: smooth backgrounds, small low-contrast inclusions
``vessels``              :func:`random_vessels`: branching vessels and thin wires
``textures``             :func:`random_textures`: gratings, checkerboards, dots, rings, noise in regions
``anatomy``              :func:`random_anatomy`: body outline, fat, organs, lungs, bone with a rim, lesions
``natural``              :func:`natural_images`: crops of scikit-image's bundled photographs
``shepp-logan-variants`` :func:`shepp_logan_variants`: seeded variants of the Shepp–Logan head
``crops:PATH``           :class:`ImageCrops`: crops of a user's own images
=======================  ======================================================================

:data:`FAMILIES` holds them by name, :func:`generate` makes phantoms by name, :func:`parse_mix` reads
a mixture (``'mix:ellipses=1,polygons=1'``) whose :class:`Mix` draws each sample's family from
its seed, and :func:`phantom_images` makes the phantoms of given sample seeds for a family or a mix.
:func:`shepp_logan` is the fixed phantom and :func:`load_images` reads a user's whole images.
"""

from .anatomy import random_anatomy
from .ellipses import (MODIFIED_SHEPP_LOGAN, ellipse_parameters, random_ellipses, rasterize_ellipses, shepp_logan,
                       shepp_logan_parameters, shepp_logan_variants)
from .images import IMAGE_SUFFIXES, load_images, read_images
from .lowcontrast import low_contrast
from .natural import SKIMAGE_IMAGES, ImageCrops, natural_images
from .polygons import random_polygons
from .raster import block_mean
from .registry import (CROPS_PREFIX, DRAW_RULE, FAMILIES, MIX_PREFIX, Family, Mix, family, family_names, generate,
                       is_family, is_mix, parse_mix, phantom_images)
from .textures import random_textures
from .vessels import random_vessels

__all__ = ["random_ellipses", "ellipse_parameters", "rasterize_ellipses", "shepp_logan", "shepp_logan_parameters",
           "shepp_logan_variants", "MODIFIED_SHEPP_LOGAN", "load_images", "read_images", "IMAGE_SUFFIXES",
           "block_mean", "random_polygons", "low_contrast", "random_vessels", "random_textures", "random_anatomy",
           "natural_images", "ImageCrops", "SKIMAGE_IMAGES", "Family", "FAMILIES", "MIX_PREFIX", "CROPS_PREFIX",
           "DRAW_RULE", "Mix", "family", "family_names", "generate", "is_family", "is_mix", "parse_mix",
           "phantom_images"]
