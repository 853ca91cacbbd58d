"""The root of every error a person can fix: a bad setting, a missing corpus, an unusable
file or link, a question that cannot be asked as typed.

Its message is one line for the person who caused it (the operator on the command line, the
moderator or user in the chat) and says what to do. Front ends catch this one type and show
the message; anything else is a bug and is logged with its traceback.
"""

from __future__ import annotations


class QuothError(Exception):
    """An error its message explains to the person who can fix it."""
