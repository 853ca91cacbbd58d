"""quoth: answers questions with exact, linked quotes from a curated article collection."""

__version__ = "0.1.0"
