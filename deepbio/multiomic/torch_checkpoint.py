"""Reads a ``torch.save`` zip checkpoint into NumPy without importing torch or running its code.

A PyTorch checkpoint is a zip of ``data.pkl`` (a pickle) and one raw file per
storage (``data/0``, ``data/1``...). Unpickling it normally imports and
calls whatever globals the pickle names, which lets a checkpoint run
arbitrary code; ``torch.load(weights_only=True)`` avoids that but refuses
whole pickled modules, the form OmniBioTE publishes. `read_torch_checkpoint`
does neither: its unpickler

- maps the few globals that rebuilding tensors, NumPy arrays and plain
  containers needs (``torch._utils._rebuild_tensor_v2`` and friends,
  ``torch.*Storage``, ``collections.OrderedDict``, NumPy's ``_reconstruct``,
  ``ndarray``, ``dtype``, ``scalar``, ``set``...) to small local functions of
  its own, never to the real ones;
- maps every other global (the checkpoint's module and config classes,
  ``torch.nn.Linear``...) to an inert `CheckpointObject` subclass named after
  it, imported from nowhere: instantiating one through the pickle's
  ``NEWOBJ`` opcode (how protocol-2 pickles recreate objects) only records
  the state the pickle gives it, while *calling* one (``REDUCE``, ``INST``,
  ``OBJ``, how a pickle calls ``os.system``, ``builtins.eval``...) raises
  ValueError: such a checkpoint is refused before anything runs.

Tensors come back as `LazyTensor` records, read from the zip (and bfloat16
widened to float32: its 16 bits are the upper half of a float32) only when
`LazyTensor.numpy` is called, so a converter holds one tensor at a time.
"""

import collections
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "UntypedStorage": "uint8",
}
_TORCH_DTYPES = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16", "int64": "int64",
    "long": "int64", "int32": "int32", "int": "int32", "int16": "int16", "short": "int16",
    "int8": "int8", "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
    "uint64": "uint64", "bool": "bool", "complex64": "complex64", "cfloat": "complex64",
    "complex128": "complex128", "cdouble": "complex128",
}


class CheckpointObject:
    """An object of a class the checkpoint names; holds the pickled state, runs nothing.

    Attributes:
        checkpoint_class: ``"module.QualName"`` of the class in the pickle.
        state: the state BUILD gave it when not a dict (a dict state becomes
            the instance ``__dict__``, so ``vars(obj)`` is the module's state).
    """

    checkpoint_class = "?"

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and \
                isinstance(state[0], (dict, type(None))):
            state = dict(state[0] or {}, **(state[1] or {}))  # (dict, slots) state
        if isinstance(state, dict):
            self.__dict__.update({str(k): v for k, v in state.items()})
        else:
            self.__dict__["state"] = state

    def __repr__(self):
        return f"<{self.checkpoint_class} from checkpoint>"


class _RefusingMeta(type):
    def __call__(cls, *args, **kwargs):
        raise ValueError(f"checkpoint refused: its pickle calls {cls.checkpoint_class}, which is "
                         "not allowed (only tensors, NumPy arrays, plain values and object state "
                         "are read; nothing from the checkpoint is executed)")


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _TorchDtype(str):
    """A torch dtype named in the pickle (e.g. ``torch.bfloat16``), kept as its NumPy name."""


class _Storage:
    def __init__(self, archive, entry, dtype, numel, byteorder):
        self.archive, self.entry, self.dtype = archive, entry, dtype
        self.numel, self.byteorder = numel, byteorder


class LazyTensor:
    """A tensor of the checkpoint, materialised on demand.

    Attributes:
        dtype: str, the stored dtype (``"bfloat16"``, ``"float32"``...).
        shape: tuple of int.
    """

    def __init__(self, storage, offset, shape, stride, dtype=None):
        self.storage = storage
        self.offset = int(offset)
        self.shape = tuple(int(s) for s in shape)
        self.stride = tuple(int(s) for s in stride)
        self.dtype = dtype or storage.dtype
        if len(self.shape) != len(self.stride) or self.offset < 0 or \
                min(self.shape + self.stride, default=0) < 0:
            raise ValueError(f"checkpoint tensor has an invalid layout: offset {offset}, shape "
                             f"{shape}, stride {stride}")

    def numpy(self):
        """The tensor as a NumPy array (bfloat16 → float32, exactly).

        Raises:
            ValueError: the storage is missing or too small for the layout.
        """
        raw_dtype = "uint16" if self.dtype == "bfloat16" else self.dtype
        dtype = np.dtype(raw_dtype).newbyteorder("<" if self.storage.byteorder == "little" else ">")
        try:
            data = self.storage.archive.read(self.storage.entry)
        except KeyError as error:
            raise ValueError(f"checkpoint lacks storage {self.storage.entry}") from error
        elements = np.frombuffer(data, dtype=dtype, count=len(data) // dtype.itemsize)
        if 0 in self.shape:
            array = np.zeros(self.shape, dtype)
        else:
            last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride))
            if last >= len(elements):
                raise ValueError(f"checkpoint storage {self.storage.entry} holds {len(elements)} "
                                 f"elements, a tensor of shape {self.shape} needs {last + 1}")
            array = np.array(np.lib.stride_tricks.as_strided(
                elements[self.offset:], self.shape,
                tuple(s * dtype.itemsize for s in self.stride), writeable=False))
        array = array.astype(array.dtype.newbyteorder("="))
        if self.dtype == "bfloat16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array

    def __repr__(self):
        return f"LazyTensor({self.dtype}, {self.shape})"


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise ValueError("checkpoint refused: a tensor is rebuilt from something not a storage")
    return LazyTensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    if not isinstance(storage, _Storage) or not isinstance(dtype, _TorchDtype):
        raise ValueError("checkpoint refused: a tensor is rebuilt from something not a storage")
    return LazyTensor(storage, storage_offset, size, stride, str(dtype))


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, state=None):
    if not isinstance(data, LazyTensor):
        raise ValueError("checkpoint refused: a parameter wraps something not a tensor")
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (_rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter):
        raise ValueError("checkpoint refused: a tensor subclass is rebuilt by a disallowed "
                         "function")
    return func(*args)


def _ndarray_reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise ValueError("checkpoint refused: a NumPy array of a disallowed subclass")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise ValueError("checkpoint refused: a NumPy scalar of a disallowed dtype")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _codecs_encode(text, encoding="utf-8"):
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise ValueError(f"checkpoint refused: _codecs.encode with {encoding!r}")
    return text.encode("latin1")


def _reconstructor(cls, base, state):
    if base is not object or not isinstance(cls, _RefusingMeta) or state is not None:
        raise ValueError("checkpoint refused: copyreg._reconstructor on a disallowed class")
    return object.__new__(cls)


def _numpy_dtype(obj, align=False, copy=False):
    dtype = np.dtype(obj, align, copy)
    if dtype.hasobject:
        raise ValueError("checkpoint refused: a NumPy array of Python objects")
    return dtype


_SAFE_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Size"): tuple,
    ("torch", "device"): lambda *args: ":".join(str(a) for a in args),
    ("numpy.core.multiarray", "_reconstruct"): _ndarray_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _ndarray_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _numpy_dtype,
    ("_codecs", "encode"): _codecs_encode,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex, ("builtins", "bytearray"): bytearray,
    ("builtins", "slice"): slice, ("builtins", "object"): object,
}
_RENAMED_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, archive, prefix, byteorder):
        super().__init__(file)
        self._archive, self._prefix, self._byteorder = archive, prefix, byteorder
        self._storages = {}
        self._stubs = {}

    def find_class(self, module, name):
        module = _RENAMED_MODULES.get(module, module)
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch" and name in _TORCH_DTYPES:
            return _TorchDtype(_TORCH_DTYPES[name])
        key = f"{module}.{name}"
        if key not in self._stubs:  # a stand-in named after the class; nothing is imported
            self._stubs[key] = _RefusingMeta(name, (CheckpointObject,),
                                             {"checkpoint_class": key, "__module__": __name__})
        return self._stubs[key]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and re.fullmatch(r"\w+", str(pid[2]))):
            raise ValueError(f"checkpoint refused: unexpected persistent id {pid!r}")
        key = str(pid[2])
        if key not in self._storages:
            self._storages[key] = _Storage(self._archive, f"{self._prefix}data/{key}",
                                           pid[1].dtype, pid[4], self._byteorder)
        return self._storages[key]


def read_torch_checkpoint(path):
    """Unpickles a ``torch.save`` zip file safely (see the module docstring).

    Args:
        path: str or path-like, a ``.pt`` / ``.pth`` file written by
            ``torch.save`` (zip format, PyTorch ≥ 1.6).

    Returns:
        ``(obj, archive)``: the unpickled object (modules and other classes
        as `CheckpointObject`, tensors as `LazyTensor`, NumPy arrays and
        plain values as themselves) and the open `zipfile.ZipFile` the
        tensors read from (close it when done).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a torch zip checkpoint, a malformed pickle, or a
            pickle that calls a disallowed global (``os.system``,
            ``builtins.eval``, any class constructor...); the message names
            the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a PyTorch zip checkpoint (torch.save of PyTorch ≥ 1.6)")
    archive = zipfile.ZipFile(path)
    try:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ValueError(f"{path} holds {len(pickles)} top-level data.pkl entries, not one")
        prefix = pickles[0][:-len("data.pkl")]
        byteorder = "little"
        if f"{prefix}byteorder" in archive.namelist():
            byteorder = archive.read(f"{prefix}byteorder").decode().strip()
        if byteorder not in ("little", "big"):
            raise ValueError(f"{path}: unknown byteorder {byteorder!r}")
        with archive.open(pickles[0]) as handle:
            try:
                obj = _RestrictedUnpickler(handle, archive, prefix, byteorder).load()
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None
            except Exception as error:  # malformed pickles raise many types
                raise ValueError(f"{path}: unreadable pickle ({type(error).__name__}: {error})") \
                    from None
    except BaseException:
        archive.close()
        raise
    return obj, archive
