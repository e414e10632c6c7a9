"""Round trips of every reader and writer: TIFF, HDF5 (NXtomo, Data Exchange, a named dataset,
ltl's reconstruction layout), DICOM series and ltl's .npz."""

import json

import h5py
import numpy as np
import pytest
import tifffile
import torch

from ltl import Geometry
from ltl.data.io import (read_dicom_series, read_images, read_projections, read_reconstruction, read_tiff,
                         write_nxtomo, write_reconstruction, write_tiff)
from ltl.data.io.tiff import read_tiff_meta


@pytest.fixture
def stack(rng):
    return (rng.random((6, 3, 10)) * 1000).astype(np.float32)  # (V, R, D)


# ----------------------------------------------------------------------------- TIFF
def test_tiff_stack_file_folder_and_glob(tmp_path, stack):
    write_tiff(tmp_path / "p.tif", stack, {"note": "x"})
    np.testing.assert_array_equal(read_tiff(tmp_path / "p.tif"), stack)
    assert read_tiff_meta(tmp_path / "p.tif") == {"note": "x"}
    folder = tmp_path / "pages"
    folder.mkdir()
    for i, page in enumerate(stack):
        tifffile.imwrite(folder / f"proj_{i:04d}.tif", page.astype(np.uint16))
    np.testing.assert_array_equal(read_tiff(folder), stack.astype(np.uint16))
    np.testing.assert_array_equal(read_tiff(str(folder / "proj_*.tif")), stack.astype(np.uint16))
    with pytest.raises(FileExistsError):
        write_tiff(tmp_path / "p.tif", stack, {})
    with pytest.raises(FileNotFoundError):
        read_tiff(tmp_path / "empty_*.tif")


def test_tiff_refuses_colour(tmp_path):
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((2, 8, 8, 3), np.uint8), photometric="rgb")
    with pytest.raises(ValueError, match="colour"):
        read_tiff(tmp_path / "rgb.tif")


def test_projection_and_sinogram_layouts_agree(tmp_path, stack):
    tifffile.imwrite(tmp_path / "proj.tif", stack)
    tifffile.imwrite(tmp_path / "sino.tif", stack.transpose(1, 0, 2), photometric="minisblack")
    tifffile.imwrite(tmp_path / "one.tif", stack[:, 0])
    a = read_projections(tmp_path / "proj.tif")
    b = read_projections(tmp_path / "sino.tif", layout="sinograms")
    np.testing.assert_array_equal(a.data, stack)
    np.testing.assert_array_equal(b.data, stack)
    assert a.angles is None and a.kind == "unknown" and a.meta["source"] == "proj.tif"
    np.testing.assert_array_equal(read_projections(tmp_path / "one.tif").data, stack[:, :1])


def test_separate_flats_and_darks(tmp_path, stack):
    tifffile.imwrite(tmp_path / "proj.tif", stack)
    tifffile.imwrite(tmp_path / "flat.tif", stack[:2] + 5)
    tifffile.imwrite(tmp_path / "dark.tif", stack[0])  # one dark image (R, D)
    p = read_projections(tmp_path / "proj.tif", flats=tmp_path / "flat.tif", darks=tmp_path / "dark.tif")
    np.testing.assert_array_equal(p.flats, stack[:2] + 5)
    assert p.darks.shape == (1, 3, 10) and p.meta["flats"] == "flat.tif"
    tifffile.imwrite(tmp_path / "bad.tif", np.zeros((2, 4, 10), np.float32))
    with pytest.raises(ValueError, match="must match"):
        read_projections(tmp_path / "proj.tif", flats=tmp_path / "bad.tif")


# ----------------------------------------------------------------------------- HDF5
def test_nxtomo_round_trip(tmp_path, stack):
    angles = np.deg2rad(np.linspace(-60, 60, 6))
    flats, darks = stack[:2] + 100, stack[:3] * 0 + 7
    write_nxtomo(tmp_path / "scan.nxs", stack, angles, flats=flats, darks=darks)
    p = read_projections(tmp_path / "scan.nxs")
    np.testing.assert_array_equal(p.data, stack)
    np.testing.assert_array_equal(p.flats, flats)
    np.testing.assert_array_equal(p.darks, darks)
    np.testing.assert_allclose(p.angles, angles, atol=1e-12)
    assert p.kind == "intensity" and p.meta["format"] == "NXtomo" and "assumed" not in p.meta
    with pytest.raises(FileExistsError):
        write_nxtomo(tmp_path / "scan.nxs", stack, angles)


def test_nxtomo_units_and_invalid_frames(tmp_path, stack):
    key = np.array([2, 1, 0, 0, 3, 0, 0, 0, 0], np.uint8)
    frames = np.concatenate([stack[:1] * 0, stack[:1] + 9, stack[:2], stack[:1], stack[2:6]])
    rot = np.r_[0.0, 0.0, np.radians([0, 10]), 0.0, np.radians([20, 30, 40, 50])]
    with h5py.File(tmp_path / "raw.h5", "w") as f:
        e = f.create_group("entry")
        e["definition"] = "NXtomo"
        e["instrument/detector/data"] = frames
        e["instrument/detector/image_key"] = key
        e["sample/rotation_angle"] = rot
        e["sample/rotation_angle"].attrs["units"] = "rad"
    p = read_projections(tmp_path / "raw.h5")
    np.testing.assert_array_equal(p.data, stack)
    np.testing.assert_allclose(p.angles, np.radians(np.arange(0, 60, 10)))
    assert p.meta["invalid_frames"] == 1
    with h5py.File(tmp_path / "raw.h5", "a") as f:
        del f["entry/sample/rotation_angle"].attrs["units"]
    assert "degrees" in read_projections(tmp_path / "raw.h5").meta["assumed"]


def test_data_exchange_and_named_datasets(tmp_path, stack):
    with h5py.File(tmp_path / "dx.h5", "w") as f:
        f["exchange/data"] = stack
        f["exchange/data_white"] = stack[:2]
        f["exchange/theta"] = np.linspace(0, 180, 6)
        f["other/sinos"] = stack.transpose(1, 0, 2)
    p = read_projections(tmp_path / "dx.h5")
    assert p.meta["format"] == "Data Exchange" and p.darks is None
    np.testing.assert_allclose(p.angles, np.deg2rad(np.linspace(0, 180, 6)))
    q = read_projections(f"{tmp_path / 'dx.h5'}:/other/sinos", layout="sinograms")
    np.testing.assert_array_equal(q.data, stack)
    assert q.angles is None
    with pytest.raises(ValueError, match="no dataset"):
        read_projections(tmp_path / "dx.h5", dataset="/nothing")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["x"] = stack
    with pytest.raises(ValueError, match="name the projections"):
        read_projections(tmp_path / "plain.h5")


def test_npz_scan_through_read_projections(tmp_path):
    from ltl.data import save_scan, simulate, shepp_logan

    g = Geometry.limited_angle(16, angular_range_deg=90, step_deg=10)
    scan = simulate(shepp_logan(16).reshape(1, 16, 16), g, oversample=1)
    save_scan(tmp_path / "s.npz", scan)
    p = read_projections(tmp_path / "s.npz")
    assert p.geometry == g and p.kind == "line_integrals"
    np.testing.assert_array_equal(p.data.transpose(1, 0, 2), scan.sinogram.numpy())


def test_unknown_and_missing_files(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="not a scan ltl reads"):
        read_projections(tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError):
        read_projections(tmp_path / "nope.tif")
    with pytest.raises(FileNotFoundError):
        read_projections(tmp_path / "nope.h5")


# ----------------------------------------------------------------------------- DICOM
def _write_dicom(path, image, z, number, slope=2.0, intercept=-1024.0):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, "CT"
    ds.Rows, ds.Columns = image.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelSpacing, ds.SliceThickness = [0.5, 0.5], 1.0
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, z]
    ds.InstanceNumber = number
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.PixelData = image.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_dicom_series_round_trip(tmp_path, rng):
    raw = rng.integers(0, 2000, size=(4, 12, 12)).astype(np.uint16)
    zs = [3.0, -1.0, 7.0, 1.0]  # file order is not slice order
    for i, (img, z) in enumerate(zip(raw, zs)):
        _write_dicom(tmp_path / f"im{i}.dcm", img, z, number=10 - i)
    images, meta = read_dicom_series(tmp_path)
    order = np.argsort(zs)
    np.testing.assert_allclose(images, raw[order] * 2.0 - 1024.0)
    assert meta["order"] == "ImagePositionPatient" and meta["pixel_spacing_mm"] == [0.5, 0.5]
    assert meta["count"] == 4 and meta["modality"] == "CT"
    via, _ = read_images(tmp_path)
    np.testing.assert_array_equal(via, images)
    (tmp_path / "junk.dcm").write_bytes(b"not dicom")
    with pytest.raises(ValueError, match="junk.dcm"):
        read_dicom_series(tmp_path)


# ----------------------------------------------------------------------------- reconstructions
@pytest.mark.parametrize("name", ["rec.npz", "rec.tif", "rec.tiff", "rec.h5", "rec.hdf5"])
@pytest.mark.parametrize("geometry", [Geometry.limited_angle(8, angular_range_deg=90, step_deg=10),
                                      Geometry.fan_beam(8, source_origin=30, origin_det=20, step_deg=30)])
def test_reconstruction_writers_round_trip(tmp_path, rng, name, geometry):
    vol = torch.from_numpy(rng.random((3, 8, 8)).astype(np.float32))
    meta = {"method": "tv", "lam": 0.1, "preprocessing": [{"step": "minus_log"}]}
    path = write_reconstruction(tmp_path / name, vol, geometry, meta)
    back, g, m = read_reconstruction(path)
    np.testing.assert_array_equal(back, vol.numpy())
    assert g == geometry
    assert m["method"] == "tv" and m["preprocessing"] == [{"step": "minus_log"}] and "ltl_version" in m
    with pytest.raises(FileExistsError):
        write_reconstruction(tmp_path / name, vol, geometry, meta)
    images, _ = read_images(path)
    np.testing.assert_array_equal(images, vol.numpy())
    if name.endswith((".tif", ".tiff")):  # the provenance sits in the ImageDescription as JSON
        with tifffile.TiffFile(path) as t:
            assert json.loads(t.pages[0].description)["geometry"] == geometry.to_dict()


def test_writer_refuses_unknown_endings(tmp_path):
    g = Geometry.limited_angle(8)
    with pytest.raises(ValueError, match="ltl writes"):
        write_reconstruction(tmp_path / "rec.png", torch.zeros(1, 8, 8), g, {})
    assert not (tmp_path / "rec.png").exists()
