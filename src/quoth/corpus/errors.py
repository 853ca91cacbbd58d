"""The error every article reader raises (text formats and documents alike), in a module of
its own so that the readers and the lookup that picks one import it and not each other."""

from __future__ import annotations

from quoth.errors import QuothError


class ArticleFormatError(QuothError, ValueError):
    """The file is not a usable article; the message says why, for the person who added it."""
