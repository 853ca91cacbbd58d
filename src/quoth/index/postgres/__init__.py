"""The PostgreSQL backend: one published index in tables that several replicas read.

An index is kept as *segments*: a segment is one local build (a base, or a small delta over
it; see :mod:`quoth.index.layered`) copied into its own tables (``quoth_s<name>_...``) and
shared by every version that uses it. A version is a row of ``quoth_versions`` naming its
segments and the base rows it no longer serves, made current in one transaction, so a reader
sees the old version or the new one, never a mixture. A one-article change copies one small
delta segment; the base, its vectors and its IVFFlat index stay as they are. Segments no
version names any more are dropped. Inside a segment:

- articles, sentence and passage spans: read per answer, the few dozen rows it needs, and
  kept in bounded caches, so a replica holds no copy of the corpus and opening a version reads
  only its settings;
- passage and sentence vectors in pgvector ``halfvec`` columns (half the bytes of ``vector``,
  the same precision the file backend stores), a base's passages under an IVFFlat index for
  inner product above :data:`EXACT_UP_TO` passages (searched exactly below, as deltas are);
- BM25 as term counts (compact, see :mod:`quoth.index.postings_codec`) and the segment's
  passage lengths, weighed when a question is scored with the version's statistics (documents,
  total length, how many hold each term), exactly as the file backend weighs them, so scores
  equal a build from nothing after any number of changes.

Building stays in :mod:`quoth.index.builder` (a local build folder is the cache that makes
re-embedding incremental); :func:`publish` copies what the database lacks of a finished one.

The package, by job: :mod:`.schema` (tables and names), :mod:`.publish` (copying a build in
and making it current), :mod:`.read` (answering from a version), :mod:`.caches` (what a
replica keeps between questions).
"""

from quoth.index.postgres.publish import (
    current_version,
    publish,
    published_articles,
    reindex_lock,
)
from quoth.index.postgres.read import PostgresIndex, watch_versions
from quoth.index.postgres.schema import segment_name

__all__ = [
    "PostgresIndex",
    "current_version",
    "publish",
    "published_articles",
    "reindex_lock",
    "segment_name",
    "watch_versions",
]
