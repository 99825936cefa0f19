"""fmicl_core.data: the bundled digits, the CIFAR, STL-10 and TinyImageNet readers on tiny archives written
here, image folders."""

import pickle

import numpy as np
import pytest
import torch

from fmicl_core.augment import torchvision_transform
from fmicl_core.data import TEST_FRACTION, ImageData, TwoViews, load_dataset, names


def test_names():
    assert names() == ["digits", "cifar10", "cifar100", "stl10", "tinyimagenet", "imagefolder", "synthetic"]


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
    for name in ("cifar10", "cifar100", "stl10", "tinyimagenet"):
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


def _write_stl10(root, rng: np.random.Generator, n_train=3, n_test=2, n_unlabeled=4):
    """A tiny archive in the STL-10 binary format: per image 3 x 96 x 96 bytes, each channel stored
    column by column; labels one byte 1..10. Returns the images (N, 3, 96, 96) and labels 0..9."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    written = {}
    for split, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        images = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)
        images.transpose(0, 1, 3, 2).tofile(folder / f"{split}_X.bin")
        labels = rng.integers(0, 10, n)
        if split != "unlabeled":
            (labels + 1).astype(np.uint8).tofile(folder / f"{split}_y.bin")
        written[split] = (images, labels)
    return written


def test_stl10_reader_and_unlabeled_on_a_tiny_archive(tmp_path):
    written = _write_stl10(tmp_path, np.random.default_rng(0))
    train = load_dataset("stl10", root=tmp_path, verify=False)
    test = load_dataset("stl10", root=tmp_path, train=False, verify=False)
    assert train.images.shape == (3, 3, 96, 96) and train.num_classes == 10
    assert np.array_equal(train.images.numpy(), written["train"][0])  # rows/columns land where STL-10 puts them
    assert train.labels.tolist() == written["train"][1].tolist()
    assert np.array_equal(test.images.numpy(), written["test"][0]) and test.labels.tolist() == written["test"][1].tolist()
    both = load_dataset("stl10", root=tmp_path, verify=False, unlabeled=True)
    assert np.array_equal(both.images.numpy(), np.concatenate([written["train"][0], written["unlabeled"][0]]))
    assert both.labels.tolist() == written["train"][1].tolist() + [-1] * 4
    with pytest.raises(ValueError, match="unlabeled=True applies to the train split only"):
        load_dataset("stl10", root=tmp_path, train=False, verify=False, unlabeled=True)
    # the written files do not carry the official checksums: the default verified read refuses them
    with pytest.raises(ValueError, match="train_X.bin.*md5.*verify=False"):
        load_dataset("stl10", root=tmp_path)


def test_stl10_corrupt_files_are_named(tmp_path):
    _write_stl10(tmp_path, np.random.default_rng(0))
    folder = tmp_path / "stl10_binary"
    (folder / "unlabeled_X.bin").write_bytes(bytes(100))
    with pytest.raises(ValueError, match=r"unlabeled_X.bin.*100 bytes.*3x96x96") as err:
        load_dataset("stl10", root=tmp_path, verify=False, unlabeled=True)
    assert "\n" not in str(err.value)
    np.array([1, 11, 2], np.uint8).tofile(folder / "train_y.bin")
    with pytest.raises(ValueError, match=r"train_y.bin.*labels 1..11"):
        load_dataset("stl10", root=tmp_path, verify=False)
    np.array([1, 2], np.uint8).tofile(folder / "train_y.bin")
    with pytest.raises(ValueError, match=r"train_y.bin.*2 labels for 3 images"):
        load_dataset("stl10", root=tmp_path, verify=False)
    (folder / "test_y.bin").unlink()
    with pytest.raises(ValueError, match=r"'stl10' not found.*test_y.bin.*download=True"):
        load_dataset("stl10", root=tmp_path, train=False, verify=False)


def _write_tinyimagenet(root, gen: torch.Generator, wnids=("n01", "n02", "n03"), per_class=2):
    """A tiny archive in the TinyImageNet layout: JPEG train images (one class in PNG, one image
    grayscale), PNG val images listed in val_annotations.txt. Returns {path: (image, label)} with
    the PNG images (lossless) only."""
    folder = root / "tiny-imagenet-200"
    exact = {}
    (folder / "val" / "images").mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")
    lines = []
    for label, wnid in enumerate(wnids):
        for i in range(per_class):
            image = torch.randint(0, 256, (3, 64, 64), generator=gen, dtype=torch.uint8)
            suffix = "PNG" if label == 0 else "JPEG"
            path = folder / "train" / wnid / "images" / f"{wnid}_{i}.{suffix}"
            _write_png(path, image) if label == 0 else _write_jpeg(path, image, grayscale=i == 1)
            if label == 0:
                exact[("train", path.name)] = (image, label)
            val = torch.randint(0, 256, (3, 64, 64), generator=gen, dtype=torch.uint8)
            name = f"val_{label}_{i}.PNG"
            _write_png(folder / "val" / "images" / name, val)
            exact[("val", name)] = (val, label)
            lines.append(f"{name}\t{wnid}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return exact


def _write_jpeg(path, image, grayscale=False):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    (pil.convert("L") if grayscale else pil).save(path, format="JPEG")


def test_tinyimagenet_reader_on_a_tiny_archive(tmp_path):
    exact = _write_tinyimagenet(tmp_path, torch.Generator().manual_seed(0))
    train = load_dataset("tinyimagenet", root=tmp_path)
    test = load_dataset("tinyimagenet", root=tmp_path, train=False)
    assert train.images.shape == (6, 3, 64, 64) and train.images.dtype == torch.uint8
    assert train.num_classes == 3 and train.name == "tinyimagenet"
    assert train.labels.tolist() == [0, 0, 1, 1, 2, 2]  # label = line of wnids.txt
    assert test.labels.tolist() == [0, 0, 1, 1, 2, 2]  # from val_annotations.txt
    # lossless files come back pixel for pixel; the grayscale JPEG is read as 3 equal channels
    assert torch.equal(train.images[0], exact[("train", "n01_0.PNG")][0])
    assert torch.equal(test.images[3], exact[("val", "val_1_1.PNG")][0])
    assert torch.equal(train.images[3, 0], train.images[3, 1]) and torch.equal(train.images[3, 1], train.images[3, 2])


def test_tinyimagenet_missing_and_corrupt_files_are_named(tmp_path):
    _write_tinyimagenet(tmp_path, torch.Generator().manual_seed(0))
    folder = tmp_path / "tiny-imagenet-200"
    (folder / "val" / "images" / "val_2_0.PNG").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"tinyimagenet file .*val_2_0.PNG.* is not a readable image") as err:
        load_dataset("tinyimagenet", root=tmp_path, train=False)
    assert "\n" not in str(err.value)
    (folder / "val" / "images" / "val_2_0.PNG").unlink()
    with pytest.raises(ValueError, match=r"val_2_0.PNG.*not a readable image \(FileNotFoundError\)"):
        load_dataset("tinyimagenet", root=tmp_path, train=False)
    (folder / "val" / "val_annotations.txt").write_text("val_0_0.PNG\tn99\t0\t0\t63\t63\n")
    with pytest.raises(ValueError, match=r"line 1 of .*val_annotations.txt.*'val_0_0.PNG\\tn99"):
        load_dataset("tinyimagenet", root=tmp_path, train=False)
    _write_png(folder / "train" / "n02" / "images" / "n02_9.PNG", torch.zeros(3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"n02_9.PNG' is 32x32; TinyImageNet images are 64x64"):
        load_dataset("tinyimagenet", root=tmp_path)
    for f in (folder / "train" / "n03" / "images").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match=r"class 'n03' of wnids.txt has no images"):
        load_dataset("tinyimagenet", root=tmp_path)
    (folder / "wnids.txt").write_text("n01\nn01\n")
    with pytest.raises(ValueError, match=r"wnids.txt' holds 2 class ids, 1 of them repeated"):
        load_dataset("tinyimagenet", root=tmp_path)
    (folder / "wnids.txt").unlink()
    with pytest.raises(ValueError, match=r"'tinyimagenet' not found.*wnids.txt.*download=True"):
        load_dataset("tinyimagenet", root=tmp_path)
