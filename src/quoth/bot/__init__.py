"""Chat front ends: thin adapters over :class:`quoth.retrieval.AnsweringService`."""
