"""Paper B (Zhang & Cai 2021): the ImageNet classifiers, random few-pixel changes, the experiments,
few-pixel augmentation, the Pixel-index and the transfer to paper A's CIFAR-10 models."""
