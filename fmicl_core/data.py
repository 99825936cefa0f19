"""Datasets as whole uint8 tensors, and the two-view dataset of the per-sample pipeline.

``load_dataset(name, root, train, download, **options) -> ImageData`` returns every image of one split
as a single ``uint8`` tensor ``(N, C, H, W)`` with ``int64`` labels, small enough for CIFAR/STL to live
on the GPU, where :mod:`fmicl_core.augment` draws the positive pairs (two augmentations of one image,
f-MICL's Figure 2) in batches.

Names (``names()``):

- ``digits``: scikit-learn's bundled 8x8 digits, 1 channel, intensities 0..16 mapped to 0..255; the
  train/test split is a fixed stratified split (20 % test, seed 0): 1437 train and 360 test images.
- ``cifar10``, ``cifar100``: the official python archives under ``root`` (``download=True`` fetches
  them), md5-checked file by file; ``verify=False`` skips the md5 checks (re-packed archives). Either
  way the pickled batches are read by an unpickler that can only build arrays, lists and strings, so
  a crafted file cannot run code.
- ``stl10``: the official binary archive ``stl10_binary`` under ``root`` (``download=True`` fetches
  it; raw bytes, no pickle), md5-checked unless ``verify=False``; 96x96 RGB, 5,000 train and 8,000
  test images. ``unlabeled=True`` (train split only) appends the 100,000 unlabeled images with
  label -1, for pre-training; no kNN or linear probe accepts a label -1.
- ``tinyimagenet``: ``root/tiny-imagenet-200`` as the official zip unpacks (``download=True`` fetches
  it): ``wnids.txt`` (the 200 classes; label = line number), ``train/<wnid>/images/*`` (the train
  split, 500 images a class) and ``val/images/*`` with ``val/val_annotations.txt`` (``file<TAB>wnid
  ...`` per line: the test split, 10,000 images); 64x64, read as RGB (a few are grayscale JPEGs).
- ``imagefolder``: ``path`` to a folder of class sub-folders (``torchvision.datasets.ImageFolder``);
  ``path/train`` and ``path/test`` (or ``path/val``) are used when present, otherwise the same
  stratified 80/20 split as digits. ``image_size`` resizes (shorter side) and centre-crops to a square;
  without it all images must already share one size.
- ``synthetic``: random uint8 images for throughput runs; options ``shape=(3, 32, 32)``, ``size``
  (default 1024 train / 256 test), ``num_classes=10``, ``seed=0``.
"""

from __future__ import annotations

import inspect
import os
import pickle
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["ImageData", "TwoViews", "load_dataset", "names", "TEST_FRACTION"]

TEST_FRACTION = 0.2
"""Test share of the fixed stratified split (digits, imagefolder without a train/test layout)."""


@dataclass(frozen=True)
class ImageData:
    """One split: ``images`` uint8 ``(N, C, H, W)``, ``labels`` int64 ``(N,)`` (-1 = unlabeled)."""

    images: Tensor
    labels: Tensor
    num_classes: int
    name: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if self.images.shape[2] != self.images.shape[3]:
            raise ValueError(f"images must be square (the augmentations and encoders assume H = W), got "
                             f"{tuple(self.images.shape[1:])}; resize or crop them (imagefolder: image_size)")
        if self.labels.dtype != torch.int64 or self.labels.shape != self.images.shape[:1]:
            raise ValueError(f"labels must be int64 ({self.images.shape[0]},), got {self.labels.dtype} "
                             f"{tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        """Height of the (square) images."""
        return self.images.shape[2]

    def to(self, device: torch.device | str) -> ImageData:
        """The same split with images and labels on ``device``."""
        return ImageData(self.images.to(device), self.labels.to(device), self.num_classes, self.name)


class TwoViews(Dataset):
    """``(transform(x), transform(x), label)`` per image: the per-sample DataLoader pipeline."""

    def __init__(self, data: ImageData, transform: Callable[[Tensor], Tensor]) -> None:
        self.images, self.labels, self.transform = data.images.cpu(), data.labels.cpu(), transform

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor, Tensor]:
        image = self.images[index]
        return self.transform(image), self.transform(image), self.labels[index]


def _stratified_split(labels: np.ndarray, train: bool) -> np.ndarray:
    """Indices of the fixed stratified train/test split (``TEST_FRACTION``, seed 0)."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels)
    if counts[counts > 0].min() < 2 or round(TEST_FRACTION * len(labels)) < np.count_nonzero(counts):
        raise ValueError(f"{len(labels)} images in {np.count_nonzero(counts)} classes (the smallest has "
                         f"{counts[counts > 0].min()}) are too few for the stratified {TEST_FRACTION:.0%} test split; "
                         "every class needs 2 images and the test split one per class")
    train_idx, test_idx = train_test_split(np.arange(len(labels)), test_size=TEST_FRACTION,
                                           stratify=labels, random_state=0)
    return np.sort(train_idx if train else test_idx)


def _from_numpy(images: np.ndarray, labels: np.ndarray, num_classes: int, name: str) -> ImageData:
    return ImageData(torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)),
                     torch.as_tensor(np.asarray(labels), dtype=torch.int64), num_classes, name)


def _digits(root: str, train: bool, download: bool) -> ImageData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    idx = _stratified_split(bunch.target, train)
    return _from_numpy(images[idx], bunch.target[idx], 10, "digits")


_ARRAY_GLOBALS = frozenset({
    *((module, "_reconstruct") for module in ("numpy.core.multiarray", "numpy._core.multiarray")),
    *((module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
})
"""The only globals a CIFAR python batch may name: those that rebuild a numpy array."""


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds dicts, lists, strings, numbers and numpy arrays and nothing else, so a
    crafted file cannot run code (a plain ``pickle.load`` calls whatever the file names)."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ARRAY_GLOBALS:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR batch never does")
        return super().find_class(module, name)


def _read_batch(path: Path) -> dict:
    """One file of the CIFAR python format (a pickled dict), read by :class:`_ArrayUnpickler`."""
    try:
        with open(path, "rb") as fh:
            batch = _ArrayUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{str(path)!r} is not a CIFAR python batch ({err})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{str(path)!r} is not a CIFAR python batch (it holds a {type(batch).__name__})")
    return batch


def _torchvision(name: str, build: Callable[[], object]) -> object:
    try:
        return build()
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted ..."
        raise ValueError(f"dataset {name!r} not found or corrupt ({err}); pass download=True "
                         f"(python -m fmicl_core.train --download) to fetch it") from None
    except OSError as err:  # the download failed
        raise ValueError(f"dataset {name!r} could not be downloaded ({err})") from None


def _fetch(name: str, root: str, url: str, filename: str, md5: str) -> None:
    """Download and unpack the official archive of dataset ``name`` into ``root``."""
    from torchvision.datasets.utils import download_and_extract_archive

    _torchvision(name, lambda: download_and_extract_archive(url, root, filename=filename, md5=md5))


def _missing(name: str, path: Path) -> ValueError:
    return ValueError(f"dataset {name!r} not found: {str(path)!r} does not exist; pass download=True "
                      "(python -m fmicl_core.train --download) to fetch it")


def _official_files(name: str, root: str, folder: Path, files: list, download: bool, verify: bool,
                    archive: tuple[str, str, str]) -> None:
    """Make sure every ``(file, md5)`` of ``files`` is in ``folder``: fetch the ``(url, filename,
    md5)`` ``archive`` when ``download`` and one is missing or altered; then refuse a missing file,
    and with ``verify`` one that is not the official file."""
    from torchvision.datasets.utils import check_integrity

    if download and not all(check_integrity(str(folder / f), md5) for f, md5 in files):
        _fetch(name, root, *archive)
    for f, md5 in files:
        if not (folder / f).is_file():
            raise _missing(name, folder / f)
        if verify and not check_integrity(str(folder / f), md5):
            raise ValueError(f"dataset {name!r}: {str(folder / f)!r} does not match the official archive (md5); "
                             "pass download=True to fetch it again, or verify=False for a re-packed copy")


def _cifar(name: str, root: str, train: bool, download: bool, verify: bool = True) -> ImageData:
    """CIFAR-10/100 from the official python archive under ``root``; every file is md5-checked
    (``verify``) and read by :func:`_read_batch`, never by ``pickle.load``."""
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    folder = Path(root) / cls.base_folder
    files = [*(cls.train_list if train else cls.test_list), [cls.meta["filename"], cls.meta["md5"]]]
    _official_files(name, root, folder, files, download, verify, (cls.url, cls.filename, cls.tgz_md5))
    batches = [_read_batch(folder / f) for f, _ in files[:-1]]
    key = "labels" if name == "cifar10" else "fine_labels"
    try:
        images = np.concatenate([np.asarray(b["data"], dtype=np.uint8).reshape(-1, 3, 32, 32) for b in batches])
        labels = sum((list(b[key]) for b in batches), [])
        classes = len(_read_batch(folder / files[-1][0])[cls.meta["key"]])
    except (KeyError, ValueError, TypeError) as err:
        raise ValueError(f"dataset {name!r} under {str(folder)!r} is not in the CIFAR python format "
                         f"({type(err).__name__}: {err})") from None
    return _from_numpy(images, labels, classes, name)


_STL_IMAGE = (3, 96, 96)


def _stl_images(path: Path) -> np.ndarray:
    """The images of an STL-10 ``*_X.bin`` file: 3x96x96 bytes each, channel-major, every channel
    stored column by column (hence the transpose to rows)."""
    raw = np.fromfile(path, dtype=np.uint8)
    size = int(np.prod(_STL_IMAGE))
    if raw.size == 0 or raw.size % size:
        raise ValueError(f"dataset 'stl10': {str(path)!r} holds {raw.size} bytes, not a whole number of "
                         f"3x96x96 images (truncated or corrupt); pass download=True to fetch it again")
    return raw.reshape(-1, *_STL_IMAGE).transpose(0, 1, 3, 2)


def _stl_labels(path: Path, n: int) -> np.ndarray:
    """The labels of an STL-10 ``*_y.bin`` file: one byte 1..10 per image, returned as 0..9."""
    raw = np.fromfile(path, dtype=np.uint8).astype(np.int64)
    if raw.size != n:
        raise ValueError(f"dataset 'stl10': {str(path)!r} holds {raw.size} labels for {n} images (corrupt "
                         "file); pass download=True to fetch it again")
    if n and not 1 <= raw.min() <= raw.max() <= 10:
        raise ValueError(f"dataset 'stl10': {str(path)!r} holds labels {raw.min()}..{raw.max()}; STL-10 labels "
                         "are 1..10 (corrupt file); pass download=True to fetch it again")
    return raw - 1


def _stl10(root: str, train: bool, download: bool, unlabeled: bool = False, verify: bool = True) -> ImageData:
    """STL-10 from the official binary archive under ``root`` (md5-checked with ``verify``);
    ``unlabeled`` appends the unlabeled images (label -1) to the train split."""
    from torchvision import datasets

    if unlabeled and not train:
        raise ValueError("stl10 option unlabeled=True applies to the train split only (the test split has "
                         "no unlabeled images); load the test split without it")
    cls = datasets.STL10
    folder = Path(root) / cls.base_folder
    split = "train" if train else "test"
    md5 = dict(cls.train_list + cls.test_list)
    files = [f"{split}_X.bin", f"{split}_y.bin", *(["unlabeled_X.bin"] if unlabeled else [])]
    _official_files("stl10", root, folder, [(f, md5[f]) for f in files], download, verify,
                    (cls.url, cls.filename, cls.tgz_md5))
    images = _stl_images(folder / files[0])
    labels = _stl_labels(folder / files[1], len(images))
    if unlabeled:
        extra = _stl_images(folder / files[2])
        images = np.concatenate([images, extra])
        labels = np.concatenate([labels, np.full(len(extra), -1, dtype=np.int64)])
    return _from_numpy(images, labels, 10, "stl10")


TINY_IMAGENET = ("http://cs231n.stanford.edu/tiny-imagenet-200.zip", "tiny-imagenet-200.zip",
                 "90528d7ca1a48142e341f4ef8d21d0de")
"""URL, file name and md5 of the official TinyImageNet archive."""


def _read_rgb(path: Path, what: str) -> Tensor:
    """The image file ``path`` as a uint8 RGB tensor ``(3, H, W)`` (``what`` names the data set in errors)."""
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF

    try:
        with Image.open(path) as image:
            return TF.pil_to_tensor(image.convert("RGB"))
    except OSError as err:  # missing, or PIL cannot read it
        raise ValueError(f"{what} file {str(path)!r} is not a readable image ({type(err).__name__})") from None


def _tiny_samples(folder: Path, train: bool, classes: dict[str, int]) -> list[tuple[Path, int]]:
    """``(image path, label)`` of the train folder or of the val annotations file."""
    if train:
        samples = []
        for wnid, label in classes.items():
            images = folder / "train" / wnid / "images"
            files = sorted(p for p in images.iterdir() if p.is_file()) if images.is_dir() else []
            if not files:
                raise ValueError(f"dataset 'tinyimagenet': class {wnid!r} of wnids.txt has no images in "
                                 f"{str(images)!r}; the archive is incomplete (download=True fetches it again)")
            samples += [(f, label) for f in files]
        return samples
    annotations = folder / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise _missing("tinyimagenet", annotations)
    samples = []
    for number, line in enumerate(annotations.read_text().splitlines(), 1):
        parts = line.split("\t")
        if len(parts) < 2 or parts[1] not in classes:
            raise ValueError(f"dataset 'tinyimagenet': line {number} of {str(annotations)!r} is {line[:60]!r}; "
                             "expected '<file>\\t<wnid>...' with a wnid of wnids.txt")
        samples.append((folder / "val" / "images" / parts[0], classes[parts[1]]))
    return samples


def _tinyimagenet(root: str, train: bool, download: bool) -> ImageData:
    """TinyImageNet from ``root/tiny-imagenet-200`` (module docstring)."""
    folder = Path(root) / "tiny-imagenet-200"
    if download and not (folder / "wnids.txt").is_file():
        _fetch("tinyimagenet", root, *TINY_IMAGENET)
    if not (folder / "wnids.txt").is_file():
        raise _missing("tinyimagenet", folder / "wnids.txt")
    wnids = (folder / "wnids.txt").read_text().split()
    if not wnids or len(set(wnids)) != len(wnids):
        raise ValueError(f"dataset 'tinyimagenet': {str(folder / 'wnids.txt')!r} holds {len(wnids)} class ids, "
                         f"{len(wnids) - len(set(wnids))} of them repeated; expected distinct wnids, one a line")
    samples = _tiny_samples(folder, train, {w: i for i, w in enumerate(wnids)})
    images = []
    for path, _ in samples:
        image = _read_rgb(path, "tinyimagenet")
        if image.shape[1:] != (64, 64):
            raise ValueError(f"tinyimagenet file {str(path)!r} is {image.shape[2]}x{image.shape[1]}; "
                             "TinyImageNet images are 64x64")
        images.append(image)
    return _from_numpy(torch.stack(images).numpy(), [label for _, label in samples], len(wnids), "tinyimagenet")


def _read_folder(folder: Path, image_size: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    from torchvision import datasets
    from torchvision.transforms.v2 import functional as TF

    if not folder.is_dir():
        raise ValueError(f"imagefolder path {str(folder)!r} is not a folder")
    try:
        ds = datasets.ImageFolder(str(folder))  # PIL loader, converted to RGB
    except (FileNotFoundError, RuntimeError) as err:  # no class folders, or no images in them
        raise ValueError(f"imagefolder path {str(folder)!r} holds no class sub-folders of images ({err})") from None
    images = []
    for path, _ in ds.samples:
        image = _read_rgb(Path(path), "imagefolder")
        if image_size is not None:
            image = TF.center_crop(TF.resize(image, image_size, antialias=True), image_size)
        images.append(image)
    shapes = {tuple(x.shape) for x in images}
    if len(shapes) != 1:
        raise ValueError(f"imagefolder images under {str(folder)!r} have sizes {sorted(shapes)[:3]}...; "
                         f"pass image_size to resize them")
    return torch.stack(images).numpy(), np.asarray(ds.targets), len(ds.classes)


def _imagefolder(root: str, train: bool, download: bool, path: str | os.PathLike | None = None,
                 image_size: int | None = None) -> ImageData:
    if path is None:
        raise ValueError("dataset 'imagefolder' needs the option path=<folder of class sub-folders>")
    path = Path(path)
    test_dir = next((path / s for s in ("test", "val") if (path / s).is_dir()), None)
    if (path / "train").is_dir() and test_dir is not None:
        images, labels, k = _read_folder(path / "train" if train else test_dir, image_size)
        return _from_numpy(images, labels, k, "imagefolder")
    images, labels, k = _read_folder(path, image_size)
    idx = _stratified_split(labels, train)
    return _from_numpy(images[idx], labels[idx], k, "imagefolder")


def _synthetic(root: str, train: bool, download: bool, shape: tuple[int, int, int] = (3, 32, 32),
               size: int | None = None, num_classes: int = 10, seed: int = 0) -> ImageData:
    size = (1024 if train else 256) if size is None else size
    if size < 1 or num_classes < 1 or len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"synthetic needs size >= 1, num_classes >= 1 and shape (C, H, W), got "
                         f"size={size}, num_classes={num_classes}, shape={shape}")
    gen = torch.Generator().manual_seed(2 * seed + (0 if train else 1))
    images = torch.randint(0, 256, (size, *shape), generator=gen, dtype=torch.uint8)
    labels = torch.randint(0, num_classes, (size,), generator=gen)
    return ImageData(images, labels, num_classes, "synthetic")


_LOADERS: dict[str, Callable[..., ImageData]] = {
    "digits": _digits,
    "cifar10": partial(_cifar, "cifar10"),
    "cifar100": partial(_cifar, "cifar100"),
    "stl10": _stl10,
    "tinyimagenet": _tinyimagenet,
    "imagefolder": _imagefolder,
    "synthetic": _synthetic,
}


def names() -> list[str]:
    """The dataset names ``load_dataset`` accepts."""
    return list(_LOADERS)


def load_dataset(name: str, root: str | os.PathLike = "data", train: bool = True, download: bool = False,
                 **options) -> ImageData:
    """One split of dataset ``name`` as uint8 tensors (see the module docstring for the options)."""
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {names()}")
    loader = _LOADERS[name]
    allowed = list(inspect.signature(loader).parameters)[3:]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"dataset {name!r} does not take option(s) {unknown}; allowed: {allowed}")
    return loader(str(root), train, download, **options)
