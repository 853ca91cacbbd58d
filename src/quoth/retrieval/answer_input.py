"""How a candidate sentence is shown to quoth's answer model: the same for training and serving.

The model reads the question against the sentence to be marked, then the sentences around it,
so that "he said" keeps its subject while the model still judges the one sentence that would be
bold. The sentence comes first so truncation only ever cuts context, never the sentence.
"""

from __future__ import annotations

CONTEXT_CHARS = 120
"""How much of each neighbour the model sees; whole words only."""
SEPARATOR = " [SEP] "
"""The tokenizer's own separator token: the model tells the sentence from its context."""


def _tail(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < len(cut) - 1 else cut


def _head(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > 0 else cut


def candidate_text(sentence: str, before: str = "", after: str = "") -> str:
    """The second segment of the model's input for ``sentence`` with its neighbours."""
    context = " ".join(
        part for part in (_tail(before, CONTEXT_CHARS), _head(after, CONTEXT_CHARS)) if part
    )
    return f"{sentence}{SEPARATOR}{context}" if context else sentence
