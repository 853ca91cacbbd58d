"""Handing freed heap memory back to the operating system after large loads.

Loading the two ONNX models and an index allocates and frees hundreds of megabytes of
temporaries (a 21 MB int8 model file briefly takes 150 MB while ONNX Runtime optimises it).
glibc keeps freed memory inside the process unless it sits at the very top of the heap, so
a server would carry that peak as resident memory for its whole life: about 60 MB per
model on the benchmark box. ``malloc_trim`` returns it; elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import lru_cache

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def release_free_memory() -> bool:
    """Return freed heap pages to the system; True when the C library could be asked."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
