"""Registers the library's serializable classes as soon as keras is loaded.

A `.keras` file names each custom class (`"keras_pix2pix>Pix2Pix"`), and
`keras.saving.load_model` finds a class only if the module defining it was
imported: Keras imports modules by name for its own packages only. The package
does not import keras itself (the backend must stay free until the user or the
command line picks it), so it cannot simply import its models on import.

Instead, until keras is loaded, a finder placed first on `sys.meta_path` wraps
the loaders of keras and of the library's own modules:

- when keras finishes loading outside any of the library's modules (the user's
  `import keras`), the sub-packages whose classes saved models name are
  imported at once;
- when one of the library's modules imports keras, that module is only half
  executed, and the models may need it, so the registration waits until the
  outermost of the library's modules being imported has finished.

So `import keras_pix2pix; import keras; keras.saving.load_model(...)` works,
as does every other order and the command line's fresh processes. The finder
removes itself once keras is found and touches no other import.
"""

import importlib
import importlib.abc
import importlib.util
import sys

# The sub-packages whose classes a saved model's config can name.
SERIALIZABLE_PACKAGES = ("layers", "losses", "metrics", "models", "schedules")

_state = {"depth": 0, "pending": False}


def register_serializables():
    """Imports the sub-packages that register classes with `keras.saving`."""
    _state["pending"] = False
    for name in SERIALIZABLE_PACKAGES:
        importlib.import_module(f"keras_pix2pix.{name}")


class _WrappedLoader(importlib.abc.Loader):
    """Delegates to a module's own loader; subclasses act around `exec_module`."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def __getattr__(self, name):  # e.g. get_resource_reader, is_package
        return getattr(self._loader, name)


class _KerasLoader(_WrappedLoader):
    """Keras's own loader, then the registration (now or once it is safe)."""

    def exec_module(self, module):
        self._loader.exec_module(module)
        if _state["depth"]:
            _state["pending"] = True
        else:
            register_serializables()


class _LibraryLoader(_WrappedLoader):
    """Counts the library's modules being executed; registers after the last."""

    def exec_module(self, module):
        _state["depth"] += 1
        try:
            self._loader.exec_module(module)
        finally:
            _state["depth"] -= 1
        if not _state["depth"] and _state["pending"]:
            register_serializables()


class _Finder(importlib.abc.MetaPathFinder):
    """Finds modules with the other finders and wraps the loaders they return."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "keras":
            _remove_finder()
            wrapper = _KerasLoader
        elif fullname.startswith("keras_pix2pix."):
            wrapper = _LibraryLoader
        else:
            return None
        spec = _find_with_the_other_finders(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = wrapper(spec.loader)
        return spec


def _find_with_the_other_finders(fullname, path, target):
    for finder in sys.meta_path:
        if isinstance(finder, _Finder) or not hasattr(finder, "find_spec"):
            continue
        spec = finder.find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


def _remove_finder():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]


def register_when_keras_is_imported():
    """Registers the classes now if keras is loaded, else once it is."""
    if "keras" in sys.modules:
        register_serializables()
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
