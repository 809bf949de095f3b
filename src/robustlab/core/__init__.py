"""Infrastructure shared by both papers, knowing neither: parameters and profiles (:mod:`.params`; the
papers register their choices), the results store (:mod:`.results`, :mod:`.safeio`) and the registry of
result kinds (:mod:`.kinds`), deadlines and the no-compute guard (:mod:`.budget`), claims and verdicts
(:mod:`.claims`), statistics (:mod:`.stats`), errors, checks, paths, devices, seeds and progress bars.

Submodules load on first use (``rl.core.params`` works after ``import robustlab as rl``)."""
from robustlab.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {}, modules=(
    "budget", "checks", "claims", "device", "errors", "kinds", "lazy", "params", "paths", "progress", "results",
    "safeio", "seeds", "stats", "versions"))
