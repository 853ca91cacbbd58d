"""Reading articles from disk, cleaning scraped pages, and cutting them into passages."""

from quoth.corpus.loader import CorpusError, load_corpus
from quoth.corpus.models import Article, ArticleMeta, LoadedCorpus, Passage, Sentence
from quoth.corpus.splitting import split_passages, split_sentences

__all__ = [
    "Article",
    "ArticleMeta",
    "CorpusError",
    "LoadedCorpus",
    "Passage",
    "Sentence",
    "load_corpus",
    "split_passages",
    "split_sentences",
]
