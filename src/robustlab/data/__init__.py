"""The data: CIFAR-10 (paper A) and ImageNet-style images (paper B) from any of their sources, decoded
once into memory-mapped caches, and the conversions between 8-bit images and the models' scales.

One module per concern: :mod:`~robustlab.data.common` (ImageSet, balanced draws, cache, folder/tar
walking), :mod:`~robustlab.data.cifar10`, :mod:`~robustlab.data.imagenet` and
:mod:`~robustlab.data.scale`; :mod:`~robustlab.data.download` fetches the public sources when the data folder
holds no copy.
"""
from robustlab.data.cifar10 import CIFAR10_CLASSES, find_cifar10, load_cifar10
from robustlab.data.common import CACHE_VERSION, IMAGE_EXTS, ImageSet, balanced_indices, file_md5
from robustlab.data.download import describe as describe_source
from robustlab.data.imagenet import (
    center_crop_224,
    find_imagenet,
    find_wnids,
    image_sources,
    imagenet_wnids_path,
    load_imagenet,
    read_wnids,
)
from robustlab.data.scale import pm1_to_uint8, to_tensor_pm1, to_unit, uint8_to_pm1

__all__ = [
    "CACHE_VERSION",
    "CIFAR10_CLASSES",
    "IMAGE_EXTS",
    "ImageSet",
    "balanced_indices",
    "center_crop_224",
    "describe_source",
    "file_md5",
    "find_cifar10",
    "find_imagenet",
    "find_wnids",
    "image_sources",
    "imagenet_wnids_path",
    "load_cifar10",
    "load_imagenet",
    "pm1_to_uint8",
    "read_wnids",
    "to_tensor_pm1",
    "to_unit",
    "uint8_to_pm1",
]
