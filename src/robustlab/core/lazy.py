"""Lazy exports of a package: ``rl.paper_a.train_grid`` and ``rl.paper_a.grid`` without importing every
module of the package first.

A package lists, per submodule, the names it exports (``{"grid": ("train_grid", ...), ...}``) and
binds what :func:`lazy_exports` returns::

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"grid": ("train_grid",), "nets": ("build",)})

so ``package.train_grid`` imports ``package.grid`` on first use and ``package.grid`` is the submodule.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib import import_module


def lazy_exports(package: str, where: Mapping[str, Sequence[str]],
                 modules: Sequence[str] = ()) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """(``__getattr__``, ``__dir__``, ``__all__``) of ``package``: each name of ``where[module]`` is read
    from ``package.module``; each key of ``where`` and each of ``modules`` is a submodule."""
    module_of = {name: module for module, names in where.items() for name in names}
    submodules = set(where) | set(modules)
    names = sorted(module_of)

    def __getattr__(name: str) -> object:
        if name in module_of:
            return getattr(import_module(f"{package}.{module_of[name]}"), name)
        if name in submodules:
            return import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(names) | submodules)

    return __getattr__, __dir__, names
