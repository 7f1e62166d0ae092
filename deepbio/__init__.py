"""deepbio: Keras 3 models and pipelines for deep learning on biological sequences.

``import deepbio`` registers every custom layer, model and loss with Keras
(deepbio's and those of ``Feature_extraction_algorithms``), so a saved
``.keras`` model of any task loads with ``keras.models.load_model``, its
compiled loss and metrics included. Registration happens as soon
as Keras is imported (at once when it already is), so ``import deepbio.data``
alone does not start TensorFlow.
"""

import importlib
import importlib.abc
import importlib.util
import sys
from deepbio.core.task import keras_modules

__version__ = "0.2.0"

# Modules whose import registers custom objects (``@keras.saving.register_keras_serializable``);
# each task adds its own (`Task.keras_modules`), so a new method registers from its own folder.
REGISTERING_MODULES = ("deepbio.layers", "deepbio.losses", "Feature_extraction_algorithms.layers")


def register_custom_objects():
    """Imports the modules that register deepbio's and every task's Keras objects (imports Keras).

    When Keras is first imported by a deepbio module that is itself still
    being imported (``import deepbio.multiomic.backbone`` as a program's first
    line), a registering module that needs that one cannot load yet: it is
    left for the module's own import (its decorators register it) and for the
    next call (`deepbio.core.loading` calls this before loading any model).

    Raises:
        ImportError: a registering module fails while no deepbio module is
            half-imported.
    """
    for name in (*REGISTERING_MODULES, *keras_modules()):
        try:
            importlib.import_module(name)
        except ImportError:
            if not _importing_deepbio():
                raise


def _importing_deepbio():
    """Whether a deepbio module is being imported right now (its ``__spec__._initializing``)."""
    return any(getattr(getattr(module, "__spec__", None), "_initializing", False)
               for name, module in list(sys.modules.items()) if name.startswith("deepbio."))


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Runs `register_custom_objects` right after ``keras`` itself is imported.

    A mere look-up (``importlib.util.find_spec("keras")``, as TensorFlow does
    while it imports) leaves the hook in place; it removes itself once Keras
    has actually been executed.
    """

    def __init__(self):
        self._busy = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" or self._busy:
            return None
        self._busy = True
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute, hook = spec.loader.exec_module, self

        def exec_module(module):
            execute(module)
            if hook in sys.meta_path:
                sys.meta_path.remove(hook)
            register_custom_objects()

        spec.loader.exec_module = exec_module
        return spec


if "keras" in sys.modules:
    register_custom_objects()
elif not any(isinstance(f, _RegisterAfterKeras) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterKeras())


def __getattr__(name):  # PEP 562: ``deepbio.ptm`` etc. without an explicit import
    if name in ("core", "layers", "data", "interpret", "metrics", "losses", "ptm", "rnamod", "motif",
                "multiomic"):
        return importlib.import_module(f"deepbio.{name}")
    raise AttributeError(f"module 'deepbio' has no attribute {name!r}")
