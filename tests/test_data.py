"""fmicl_core.data: the bundled digits, the CIFAR readers on a tiny archive written here, image folders."""

import pickle

import numpy as np
import pytest
import torch

from fmicl_core.augment import torchvision_transform
from fmicl_core.data import TEST_FRACTION, ImageData, TwoViews, load_dataset, names


def test_names():
    assert names() == ["digits", "cifar10", "cifar100", "stl10", "imagefolder", "synthetic"]


def test_digits_split_is_fixed_stratified_and_complete():
    from sklearn.datasets import load_digits

    train, test = load_dataset("digits"), load_dataset("digits", train=False)
    assert train.images.shape == (1437, 1, 8, 8) and test.images.shape == (360, 1, 8, 8)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert train.num_classes == 10 and train.name == "digits"
    # 0..16 -> 0..255, and the union of the two splits is the whole data set, each image once
    bunch = load_digits()
    full = {(np.rint(img * 255 / 16).astype(np.uint8).tobytes(), int(y)) for img, y in zip(bunch.images, bunch.target)}
    both = [(img.numpy().tobytes(), int(y)) for d in (train, test) for img, y in zip(d.images[:, 0], d.labels)]
    assert len(both) == 1797 and set(both) == full
    assert int(train.images.max()) == 255
    # stratified: every class has TEST_FRACTION of its images in the test split (to one image)
    counts = np.bincount(bunch.target)
    assert np.all(np.abs(test.labels.bincount().numpy() - TEST_FRACTION * counts) <= 1)
    again = load_dataset("digits", train=False)
    assert torch.equal(again.images, test.images) and torch.equal(again.labels, test.labels)


def test_synthetic_shape_seed_and_splits():
    a = load_dataset("synthetic", shape=(1, 12, 12), size=50, num_classes=3, seed=4)
    b = load_dataset("synthetic", shape=(1, 12, 12), size=50, num_classes=3, seed=4)
    t = load_dataset("synthetic", shape=(1, 12, 12), size=50, num_classes=3, seed=4, train=False)
    assert a.images.shape == (50, 1, 12, 12) and a.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, t.images)
    assert set(a.labels.tolist()) <= {0, 1, 2}
    assert len(load_dataset("synthetic")) == 1024 and load_dataset("synthetic").images.shape[1:] == (3, 32, 32)


def _cifar_rows(images: np.ndarray) -> np.ndarray:
    """(n, 32, 32, 3) -> the CIFAR row layout: 1024 red, 1024 green, 1024 blue values per image."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def _dump(path, obj, protocol=pickle.DEFAULT_PROTOCOL):
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)


def _write_cifar(root, hundred: bool, rng: np.random.Generator, protocol=pickle.DEFAULT_PROTOCOL):
    """A tiny archive in the CIFAR python format: CIFAR-10 has five train batches, CIFAR-100 one file."""
    classes = 100 if hundred else 10
    key = "fine_labels" if hundred else "labels"
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True)
    files = ["train", "test"] if hundred else [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    written = {}
    for name in files:
        images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, classes, 3).tolist()
        _dump(folder / name, {"data": _cifar_rows(images), key: labels}, protocol)
        written[name] = (images, labels)
    meta_name, meta_key = ("meta", "fine_label_names") if hundred else ("batches.meta", "label_names")
    _dump(folder / meta_name, {meta_key: [f"class{i}" for i in range(classes)]})
    return written


@pytest.mark.parametrize("hundred, protocol", [(False, 2), (True, 2), (False, 4), (True, 5)])
def test_cifar_reader_on_a_tiny_archive(tmp_path, hundred, protocol):
    written = _write_cifar(tmp_path, hundred, np.random.default_rng(0), protocol)
    name = "cifar100" if hundred else "cifar10"
    train = load_dataset(name, root=tmp_path, verify=False)
    test = load_dataset(name, root=tmp_path, train=False, verify=False)
    train_files = ["train"] if hundred else [f"data_batch_{i}" for i in range(1, 6)]
    expect = np.concatenate([written[f][0] for f in train_files]).transpose(0, 3, 1, 2)
    assert train.images.shape == (3 * len(train_files), 3, 32, 32) and train.images.dtype == torch.uint8
    assert np.array_equal(train.images.numpy(), expect)  # pixel (c, y, x) lands where CIFAR puts it
    assert train.labels.tolist() == sum((written[f][1] for f in train_files), [])
    assert np.array_equal(test.images.numpy(), written["test" if hundred else "test_batch"][0].transpose(0, 3, 1, 2))
    assert train.num_classes == (100 if hundred else 10)
    # the archive's files do not carry the official checksums: the default verified read refuses them
    with pytest.raises(ValueError, match="download=True"):
        load_dataset(name, root=tmp_path)


class _RunsCode:
    """What a crafted archive holds: unpickling it calls ``open(marker, "w")``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_crafted_cifar_archive_runs_no_code(tmp_path):
    _write_cifar(tmp_path, False, np.random.default_rng(0))
    marker = tmp_path / "code-ran"
    _dump(tmp_path / "cifar-10-batches-py" / "data_batch_3", {"data": _RunsCode(marker), "labels": [0]})
    with pytest.raises(ValueError, match=r"data_batch_3.*is not a CIFAR python batch.*names io\.open") as err:
        load_dataset("cifar10", root=tmp_path, verify=False)
    assert not marker.exists() and "\n" not in str(err.value)
    _dump(tmp_path / "cifar-10-batches-py" / "data_batch_3", {"data": np.zeros((2, 5), np.uint8), "labels": [0, 1]})
    with pytest.raises(ValueError, match="not in the CIFAR python format"):
        load_dataset("cifar10", root=tmp_path, verify=False)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x04truncated")
    with pytest.raises(ValueError, match="data_batch_3.*is not a CIFAR python batch"):
        load_dataset("cifar10", root=tmp_path, verify=False)


def test_missing_dataset_says_how_to_get_it(tmp_path):
    for name in ("cifar10", "cifar100", "stl10"):
        with pytest.raises(ValueError, match=f"{name}.*download=True") as err:
            load_dataset(name, root=tmp_path)
        assert "\n" not in str(err.value)


def _write_png(path, image):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)


def test_imagefolder_split_resize_and_layouts(tmp_path):
    gen = torch.Generator().manual_seed(0)
    for k in range(2):
        for i in range(10):
            _write_png(tmp_path / "flat" / f"c{k}" / f"{i}.png", torch.randint(0, 256, (3, 12, 12), generator=gen,
                                                                           dtype=torch.uint8))
    train = load_dataset("imagefolder", path=tmp_path / "flat")
    test = load_dataset("imagefolder", path=tmp_path / "flat", train=False)
    assert len(train) == 16 and len(test) == 4 and test.labels.bincount().tolist() == [2, 2]
    assert train.images.shape[1:] == (3, 12, 12) and train.num_classes == 2
    assert load_dataset("imagefolder", path=tmp_path / "flat", image_size=8).images.shape[1:] == (3, 8, 8)
    # an explicit train/val layout is used as it is
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            _write_png(tmp_path / "split" / split / "a" / f"{i}.png", torch.full((3, 6, 6), i, dtype=torch.uint8))
    assert len(load_dataset("imagefolder", path=tmp_path / "split")) == 3
    assert len(load_dataset("imagefolder", path=tmp_path / "split", train=False)) == 2
    _write_png(tmp_path / "flat" / "c0" / "odd.png", torch.zeros(3, 5, 7, dtype=torch.uint8))
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("imagefolder", path=tmp_path / "flat")
    with pytest.raises(ValueError, match="path"):
        load_dataset("imagefolder")


def test_bad_names_options_and_tensors():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*digits.*synthetic"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="does not take option.*'shape'"):
        load_dataset("digits", shape=(1, 8, 8))
    with pytest.raises(ValueError, match="uint8"):
        ImageData(torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.int64), 10, "x")
    with pytest.raises(ValueError, match="labels"):
        ImageData(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64), 10, "x")


def test_two_views_are_two_draws_of_one_image():
    data = load_dataset("digits")
    pairs = TwoViews(data, torchvision_transform("digits", 8, 1))
    torch.manual_seed(0)
    x, y, label = pairs[5]
    assert x.shape == y.shape == (1, 8, 8) and x.dtype == torch.float32
    assert int(label) == int(data.labels[5]) and not torch.equal(x, y)
