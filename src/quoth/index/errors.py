"""Index failures, each with a message a moderator can act on without reading a traceback."""

from quoth.errors import QuothError


class IndexStoreError(QuothError):
    """Base class: the index cannot be used as it is."""


class IndexNotFoundError(IndexStoreError):
    """No index has been built in this folder yet."""


class IndexMismatchError(IndexStoreError):
    """The index was built by another model or an incompatible version of quoth."""


class IndexCorruptError(IndexStoreError):
    """A file of the index is missing, truncated or altered."""


class IndexBusyError(IndexStoreError):
    """Another process is rebuilding this index right now."""
