"""Models: paper A's small CIFAR-10 nets (:mod:`.cifar`) and paper B's pretrained torchvision
ImageNet classifiers (:mod:`.imagenet`)."""
from .cifar import *  # noqa: F401,F403
from .imagenet import *  # noqa: F401,F403
