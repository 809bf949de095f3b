"""Beyond the papers: the questions each paper left open, answered with both papers' machinery.

Cross-paper code: it may import :mod:`robustlab.paper_a` and :mod:`robustlab.paper_b` (which never
import each other nor this package). :mod:`~robustlab.beyond.registry` declares the experiments as
data, :mod:`~robustlab.beyond.cifar` runs part 1 (paper A's open question on paper A's nets),
:mod:`~robustlab.beyond.imagenet` part 2 (paper B's premise on the ImageNet classifier) and
:mod:`~robustlab.beyond.claims` holds the rules of our own claims.
"""
from robustlab.core.lazy import lazy_exports

# the submodules load on first use: rl.beyond.cifar after import robustlab as rl (as in the papers)
__getattr__, __dir__, __all__ = lazy_exports(__name__, {}, modules=("cifar", "claims", "imagenet", "kinds",
                                                                    "registry"))
