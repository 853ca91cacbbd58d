"""Handing freed heap memory back to the operating system: after large loads, and as
buffers are freed.

Loading the two ONNX models and an index allocates and frees hundreds of megabytes of
temporaries (a 21 MB int8 model file briefly takes 150 MB while ONNX Runtime optimises it).
glibc keeps freed memory inside the process unless it sits at the very top of the heap, so
a server would carry that peak as resident memory for its whole life: about 60 MB per
model on the benchmark box. ``malloc_trim`` returns it; elsewhere than glibc this does nothing.

The models' sessions shrink ONNX Runtime's arena after a reindex's large batches, which frees
those buffers to the C library; glibc raises its threshold for serving large blocks from the
heap as they are freed, after which the heap only grows (a serving process grew at every
reindex). :func:`tune_allocator` fixes the threshold, so blocks of 128 KB and more are
mapped and returned to the system the moment they are freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import lru_cache

log = logging.getLogger(__name__)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024
"""Blocks this large are mapped and handed back when freed (glibc's default, before it
starts raising the threshold for blocks that were freed)."""


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


@lru_cache(maxsize=1)
def tune_allocator() -> bool:
    """Fix glibc's mmap threshold (and so its trim threshold) once per process; True when
    the C library took it. Setting it also stops glibc's dynamic raising of it."""
    libc = _libc()
    if libc is None:
        return False
    mapped: int = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    trimmed: int = libc.mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_BYTES)
    return mapped == 1 and trimmed == 1


def release_free_memory() -> bool:
    """Return freed heap pages to the system; True when the C library could be asked."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
