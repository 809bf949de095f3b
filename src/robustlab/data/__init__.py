"""The data: CIFAR-10 (paper A) and ImageNet-style images (paper B) from any of their sources, decoded
once into memory-mapped caches, and the conversions between 8-bit images and the models' scales."""
