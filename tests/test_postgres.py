"""The PostgreSQL backend end to end, on a real PostgreSQL 18 with pgvector."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psycopg
import pytest
from typer.testing import CliRunner

from quoth import runtime
from quoth.cli import app
from quoth.index import (
    Embedder,
    IndexBusyError,
    IndexData,
    IndexMismatchError,
    IndexNotFoundError,
)
from quoth.index.lexical import tokenize
from quoth.index.postgres import PostgresIndex, publish, published_articles, segment_name
from quoth.index.reader import IndexReader
from quoth.retrieval import AnsweringService
from quoth.retrieval.evaluation import load_questions

from .conftest import REPO, SEED_QUESTIONS, fresh_database, settings_for


def test_answers_match_the_file_backend(
    service: AnsweringService, postgres_index: IndexReader, embedder: Embedder
) -> None:
    from_db = AnsweringService(
        postgres_index, embedder, service.options, service.reranker, service.refusal
    )
    for path in (SEED_QUESTIONS, REPO / "eval" / "questions.jsonl"):
        for item in load_questions(path):
            files, db = service.answer(item.question), from_db.answer(item.question)
            assert db.answered == files.answered, item.id
            assert [q.sentence for q in db.quotes] == [q.sentence for q in files.quotes], item.id
            assert db.top_score == pytest.approx(files.top_score, abs=1e-3), item.id


def test_reindex_publishes_a_new_version_and_keeps_the_previous_one(
    postgres_url: str, corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    url = fresh_database(postgres_url, "quoth_reindex")
    settings = settings_for(tmp_path / "cache", corpus_copy, database_url=url)
    first, report = runtime.reindex(settings, embedder)
    assert isinstance(first, PostgresIndex) and report.articles == 5
    service = runtime.serving(settings, first, embedder)
    assert (
        "Lachin" in service.answer("Where did Shehbaz Sharif meet Ilham Aliyev?").quotes[0].sentence
    )
    (corpus_copy / "extra.txt").write_text(
        "Quoth test note\n\nThe quoth test garden grows exactly seventeen blue tulips."
    )
    second, report = runtime.reindex(settings, embedder, previous=first)
    assert isinstance(second, PostgresIndex) and second.version > first.version
    assert report.embedded_texts < 10  # only the new article was embedded
    service.swap(second)
    answer = service.answer("How many blue tulips grow in the quoth test garden?")
    assert answer.answered and "seventeen" in answer.quotes[0].sentence
    assert first.passage_count < second.passage_count  # a replica not yet switched still reads
    third, _ = runtime.reindex(settings, embedder, previous=second)
    assert isinstance(third, PostgresIndex)
    with psycopg.connect(url) as conn:
        versions = [r[0] for r in conn.execute("SELECT id FROM quoth_versions ORDER BY id")]
    assert versions == [second.version, third.version]  # older ones dropped


def test_empty_database_and_bad_url_are_one_line_errors(postgres_url: str) -> None:
    url = fresh_database(postgres_url, "quoth_empty")
    with pytest.raises(IndexNotFoundError, match="no published index yet"):
        PostgresIndex(url, "all-MiniLM-L6-v2")
    unreachable = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    result = CliRunner().invoke(app, ["ask", "Who?"], env={"QUOTH_DATABASE_URL": unreachable})
    assert result.exit_code == 1
    assert (
        result.stderr.count("\n") == 1 and "Cannot connect to QUOTH_DATABASE_URL" in result.stderr
    )


def test_a_version_published_before_compact_postings_is_still_read(
    postgres_url: str, shared_index: IndexData
) -> None:
    """Replicas are upgraded one by one before the index is published again: until then they
    read the version an older quoth published, with the same BM25 scores."""
    url = fresh_database(postgres_url, "quoth_first_form")
    publish(url, shared_index)
    name = segment_name(shared_index)
    lexical = shared_index.lexical
    postings, table = lexical.passage_postings, f"quoth_s{name}_passage_postings"
    with psycopg.connect(url) as conn:  # the tables as a quoth before compact postings wrote them
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"DROP TABLE quoth_s{name}_passage_lengths")
        conn.execute(
            f"CREATE TABLE {table} (term text PRIMARY KEY, rows bytea NOT NULL, "
            "counts bytea NOT NULL, lengths bytea NOT NULL)"
        )
        with conn.cursor().copy(f"COPY {table} (term, rows, counts, lengths) FROM STDIN") as copy:
            for term in postings.terms.tolist():
                rows, counts = postings.column(term)
                copy.write_row(
                    (
                        lexical.vocabulary.term(term),
                        np.asarray(rows, "<i4").tobytes(),
                        np.asarray(counts, "<f4").tobytes(),
                        postings.lengths[rows].astype("<f4").tobytes(),
                    )
                )
        conn.execute("UPDATE quoth_versions SET manifest = manifest - 'segment_format'")
    older = PostgresIndex(url, shared_index.manifest.model)
    assert older.segment_format == 1
    for question in ("When did Heydar Aliyev visit Pakistan?", "Pahalgam attack India response"):
        terms = tokenize([question])[0]
        expected = shared_index.bm25_top_passages(terms, 10)
        found = older.bm25_top_passages(terms, 10)
        assert [row for row, _ in found] == [row for row, _ in expected]
        assert [score for _, score in found] == pytest.approx([score for _, score in expected])
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE quoth_versions SET manifest = jsonb_set(manifest, '{segment_format}', '99')"
        )
    with pytest.raises(IndexMismatchError, match="newer quoth: upgrade this replica"):
        PostgresIndex(url, shared_index.manifest.model)


def test_one_reindex_at_a_time_across_replicas(
    postgres_url: str, corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    url = fresh_database(postgres_url, "quoth_lock")
    settings = settings_for(tmp_path / "cache", corpus_copy, database_url=url)
    with psycopg.connect(url, autocommit=True) as other_replica:
        other_replica.execute("SELECT pg_advisory_lock(hashtext('quoth-reindex'))")
        with pytest.raises(IndexBusyError, match="another replica"):
            runtime.reindex(settings, embedder)
    index, report = runtime.reindex(settings, embedder)  # the lock went with its connection
    assert report.articles == 5 and index.passage_count > 0


def test_a_replica_started_during_the_first_build_waits_for_it(
    postgres_url: str, shared_index: IndexData, tmp_path: Path, embedder: Embedder
) -> None:
    url = fresh_database(postgres_url, "quoth_first")
    settings = settings_for(tmp_path / "cache", database_url=url)
    with psycopg.connect(url, autocommit=True) as builder:
        builder.execute("SELECT pg_advisory_lock(hashtext('quoth-reindex'))")  # building
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(runtime.open_or_build_service, settings)
            time.sleep(1)
            assert not waiting.done()
            publish(url, shared_index)
            service = waiting.result(timeout=60)
    assert service.index.passage_count == shared_index.passage_count


def test_larger_indexes_are_searched_through_ivfflat(
    postgres_url: str, shared_index: IndexData, embedder: Embedder
) -> None:
    """Above the exact-search size a version gets an IVFFlat index (here forced on the small
    shared index): searches go through it and still find a passage by its own vector."""
    url = fresh_database(postgres_url, "quoth_ivf")
    publish(url, shared_index, exact_up_to=0)
    served = PostgresIndex(url, embedder.name)
    assert served.search["index"] == "ivfflat" and served.probes is not None
    table = f"quoth_s{segment_name(shared_index)}_passages"
    with psycopg.connect(url) as conn:
        kinds = conn.execute(
            "SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = %s::regclass",
            (table,),
        ).fetchall()
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                f"EXPLAIN SELECT row FROM {table} "
                f"ORDER BY vector <#> (SELECT vector FROM {table} LIMIT 1) LIMIT 5"
            ).fetchall()
        )
    assert ("ivfflat",) in kinds and f"Index Scan using {table}_vector" in plan
    for row in range(0, shared_index.passage_count, 97):
        assert served.dense_search(shared_index.passage_vectors_at([row]), 1) == [row]


def test_the_database_backend_answers_other_languages_the_same(
    service: AnsweringService,
    postgres_index: IndexReader,
    shared_index_dir: Path,
    embedder: Embedder,
) -> None:
    """The multilingual vectors come from any index reader (and from the same cache)."""
    settings = settings_for(shared_index_dir, other_languages=True)
    crosslingual = runtime.crosslingual_for(settings)
    assert crosslingual is not None
    crosslingual.prepare(service.index)
    crosslingual.prepare(postgres_index)
    files_service = AnsweringService(
        service.index, embedder, service.options, service.reranker, service.refusal, crosslingual
    )
    from_db = AnsweringService(
        postgres_index, embedder, service.options, service.reranker, service.refusal, crosslingual
    )
    for question in (
        "Какой турецкий военный корабль прибыл в Карачи?",
        "باکو کی آبادی کتنی ہے؟",
        "Hindistan hangi su anlaşmasını askıya aldı?",
    ):
        files, db = files_service.answer(question), from_db.answer(question)
        assert (db.answered, db.language) == (files.answered, files.language), question
        assert [q.sentence for q in db.quotes] == [q.sentence for q in files.quotes], question


def test_a_replica_reads_spans_on_demand_and_keeps_only_a_few(
    postgres_index: PostgresIndex, shared_index: IndexData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a version reads its settings only; spans and articles come per answer, and the
    caches that keep them stay within their bounds however much is read."""
    from quoth.index.postgres import read  # where a replica's reader takes its bounds

    monkeypatch.setattr(read, "PASSAGES_KEPT", 7)
    monkeypatch.setattr(read, "SENTENCES_KEPT", 11)
    monkeypatch.setattr(read, "ARTICLES_KEPT", 2)
    reader = PostgresIndex(postgres_index.url, "all-MiniLM-L6-v2")
    assert reader.passage_count == shared_index.passage_count
    assert reader.sentence_count == shared_index.sentence_count
    assert len(reader.articles) == len(shared_index.articles)
    reader.prefetch(range(0, reader.passage_count, 3))
    for row in reversed(range(reader.passage_count)):
        assert reader.passage_span(row) == shared_index.passage_span(row)
        assert reader.passage_id(row) == shared_index.passage_id(row)
    for sentence in range(reader.sentence_count):
        assert reader.sentence_span(sentence) == shared_index.sentence_span(sentence)
    assert reader.articles[-1] == shared_index.articles[-1]
    assert list(reader.articles) == list(shared_index.articles)
    assert [a.id for a in reader.articles[1:3]] == [a.id for a in shared_index.articles[1:3]]
    with pytest.raises(IndexError):
        reader.articles[len(shared_index.articles)]
    with pytest.raises(IndexError):
        reader.passage_span(reader.passage_count)
    sizes = (len(reader._passages), len(reader._sentences), len(reader._article_cache))
    assert sizes[0] <= 7 and sizes[1] <= 11 and sizes[2] <= 2


def test_a_new_version_is_warmed_with_recent_questions_before_it_serves(
    postgres_url: str, shared_index: IndexData, service: AnsweringService, embedder: Embedder
) -> None:
    url = fresh_database(postgres_url, "quoth_warm")
    publish(url, shared_index)
    first = PostgresIndex(url, embedder.name)
    in_db = AnsweringService(first, embedder, service.options, service.reranker, service.refusal)
    asked = "Where did Shehbaz Sharif meet Ilham Aliyev?"
    before = in_db.answer(asked)
    publish(url, shared_index)
    second = PostgresIndex(url, embedder.name)
    assert second.version > first.version and not second._passages  # opened: settings only
    in_db.prepare(second)
    assert second._passages and second._article_cache  # what the recent question reads
    in_db.swap(second)
    after = in_db.answer(asked)
    assert [q.sentence for q in after.quotes] == [q.sentence for q in before.quotes]


def test_changes_publish_a_delta_and_serve_like_a_build_from_nothing(
    postgres_url: str, corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """Each change copies one small segment (the base stays as published); a reader of the
    first version keeps answering; questions keep being answered while old segments are
    dropped; and the last version serves what a build from nothing over the same articles
    serves."""
    from .index_views import bm25_by_content, same_passages
    from .test_layered import QUESTIONS, answers

    url = fresh_database(postgres_url, "quoth_changes")
    settings = settings_for(tmp_path / "cache", corpus_copy, database_url=url)
    first, _ = runtime.reindex(settings, embedder)
    first_service = runtime.serving(settings, first, embedder)
    first_answers = answers(first_service)
    with psycopg.connect(url) as conn:
        base = conn.execute("SELECT name, created_at FROM quoth_segments").fetchall()
    files = sorted(corpus_copy.glob("*.txt"))
    original = files[1].read_text()
    latest = first
    current = runtime.serving(settings, first, embedder)
    asked = 0

    def keep_asking(stop: float) -> None:
        nonlocal asked
        while time.monotonic() < stop:
            assert current.answer(QUESTIONS[asked % len(QUESTIONS)]) is not None
            asked += 1

    changes = [
        (files[1], original + "\nThe ministry added a correction on Tuesday."),
        (corpus_copy / "bridge.md", "# Bridge\n\nThe bridge over the Kura opened in 2021."),
        (files[3], None),
        (files[1], original),
    ]
    with ThreadPoolExecutor(1) as pool:
        for path, text in changes:
            if text is None:
                path.unlink()
            else:
                path.write_text(text)
            asking = pool.submit(keep_asking, time.monotonic() + 2)
            latest, report = runtime.reindex(settings, embedder, previous=latest)
            assert report.layered
            asking.result()  # no question failed while segments were copied and dropped
            current.swap(latest)
    assert asked > 0
    with psycopg.connect(url) as conn:
        segments = conn.execute("SELECT name, created_at FROM quoth_segments").fetchall()
        versions = conn.execute("SELECT count(*) FROM quoth_versions").fetchone()
    assert set(base) <= set(segments) and len(segments) <= 3 and versions == (2,)
    assert answers(first_service) == first_answers  # the first version is the base alone

    fresh, _ = runtime.rebuild(settings_for(tmp_path / "scratch", corpus_copy), embedder)
    same_passages(latest, fresh)
    for question in QUESTIONS[:6]:
        terms = tokenize([question])[0]
        for ours, theirs in zip(
            bm25_by_content(latest, terms), bm25_by_content(fresh, terms), strict=True
        ):
            assert ours.keys() == theirs.keys()
            assert [ours[k] for k in theirs] == pytest.approx(list(theirs.values()), abs=1e-5)
    assert answers(runtime.serving(settings, latest, embedder)) == answers(
        runtime.serving(settings, fresh, embedder)
    )


def test_a_due_merge_publishes_one_new_base_and_a_stale_one_is_skipped(
    postgres_url: str,
    corpus_copy: Path,
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    from quoth.index import layered

    from .index_views import same_passages
    from .test_layered import answers

    url = fresh_database(postgres_url, "quoth_merge")
    settings = settings_for(tmp_path / "cache", corpus_copy, database_url=url)
    index, _ = runtime.reindex(settings, embedder)
    monkeypatch.setattr(layered, "MERGE_FLOOR", 30)  # this corpus is far below the real floor
    for path in sorted(corpus_copy.glob("*.txt"))[:3]:
        path.write_text(path.read_text() + "\nThe committee met again on Thursday.")
    index, report = runtime.reindex(settings, embedder, previous=index)
    assert report.layered and report.merge_due
    merged = runtime.merge(settings, embedder, previous=index)
    assert merged is not None
    index, report = merged
    assert not report.layered and report.embedded_texts == 0
    with psycopg.connect(url) as conn:
        segments = conn.execute(
            "SELECT jsonb_array_length(manifest -> 'segments') FROM quoth_versions WHERE current"
        ).fetchone()
    assert segments == (1,)  # one new base, no delta
    fresh, _ = runtime.rebuild(settings_for(tmp_path / "scratch", corpus_copy), embedder)
    same_passages(index, fresh)
    assert answers(runtime.serving(settings, index, embedder)) == answers(
        runtime.serving(settings, fresh, embedder)
    )

    # Another replica (its own build cache and corpus) publishes; this one's build is stale.
    other_corpus = tmp_path / "other-corpus"
    shutil.copytree(corpus_copy, other_corpus)
    (other_corpus / "extra.md").write_text("# Extra\n\nThe ferry runs twice a day.")
    other = settings_for(tmp_path / "other-cache", other_corpus, database_url=url)
    runtime.reindex(other, embedder)
    published = PostgresIndex(url, embedder.name).version
    assert runtime.merge(settings, embedder) is None
    assert PostgresIndex(url, embedder.name).version == published


def test_a_publication_killed_mid_copy_leaves_the_previous_version_serving(
    postgres_url: str, corpus_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """A real ``quoth index`` is held just before it writes its version row (its segment's
    tables already filled, in its transaction) and SIGKILLed there: nothing of it remains,
    the previous version serves, and the next reindex completes."""
    import os
    import signal
    import subprocess
    import sys

    url = fresh_database(postgres_url, "quoth_killed")
    settings = settings_for(tmp_path / "cache", corpus_copy, database_url=url)
    runtime.reindex(settings, embedder)
    before = PostgresIndex(url, embedder.name)
    with psycopg.connect(url) as conn:
        segments = conn.execute("SELECT name FROM quoth_segments").fetchall()
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'quoth_s%'")
        table_count = tables.fetchone()
    (corpus_copy / "extra.md").write_text("# Extra\n\nThe ferry to Gull Island runs at noon.")
    env = {
        **os.environ,
        "QUOTH_INDEX_DIR": str(settings.index_dir),
        "QUOTH_DATABASE_URL": url,
    }
    command = [sys.executable, "-m", "quoth", "index", str(corpus_copy)]
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE quoth_versions IN EXCLUSIVE MODE")  # the version row waits
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 180
        waiting = None
        while waiting is None and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
            waiting = holder.execute(
                "SELECT pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'quoth_versions' AND NOT l.granted"
            ).fetchone()
        assert waiting is not None, "the publication never reached its version row"
        copied = holder.execute(
            "SELECT count(*) FROM pg_locks WHERE pid = %s AND mode = 'AccessExclusiveLock'",
            waiting,
        ).fetchone()
        assert copied is not None and copied[0] > 0  # it created its segment's tables
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        holder.rollback()
    after = PostgresIndex(url, embedder.name)
    assert after.version == before.version and "extra" not in (published_articles(url) or {})
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT name FROM quoth_segments").fetchall() == segments
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'quoth_s%'")
        assert tables.fetchone() == table_count
    service = runtime.serving(settings, after, embedder)
    assert service.answer("Which water treaty did India suspend?").answered
    finished = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert finished.returncode == 0, finished.stderr  # no lock or half segment blocks it
    answer = runtime.open_service(settings, embedder).answer("When does the Gull Island ferry run?")
    assert "noon" in answer.quotes[0].sentence


def test_the_test_server_keeps_its_data_out_of_pytests_shared_root(
    postgres_url: str, postgres_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A second pytest run sets pytest's temporary root back to owner-only; the server runs as
    its own user, so a data directory below that root would be lost to it mid-run."""
    shared_root = tmp_path_factory.getbasetemp().parent
    assert not postgres_data_dir.resolve().is_relative_to(shared_root.resolve())
    with psycopg.connect(postgres_url) as conn:
        (data_directory,) = conn.execute("SHOW data_directory").fetchone() or ("",)
    assert Path(data_directory).resolve().is_relative_to(postgres_data_dir.resolve())
