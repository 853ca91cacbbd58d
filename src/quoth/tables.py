"""The tables of the state quoth keeps beside its index (feedback, followed feeds), written
once for SQLite and PostgreSQL, in the ground floor: each store creates them from here, and
so do PostgreSQL's numbered migrations (:mod:`quoth.database`), without either importing the
other."""

from __future__ import annotations


def feedback_tables(time: str) -> dict[str, list[str]]:
    """The tables, by name, with times in the column type ``time`` (SQLite keeps ISO text,
    PostgreSQL ``timestamptz``); ``IF NOT EXISTS`` throughout, so running them again is safe."""
    return {
        "quoth_gaps": [
            f"""CREATE TABLE IF NOT EXISTS quoth_gaps (
                key text NOT NULL,
                reason text NOT NULL,
                platform text NOT NULL,
                chat_kind text NOT NULL,
                question text NOT NULL,
                count integer NOT NULL,
                first_seen {time} NOT NULL,
                last_seen {time} NOT NULL,
                PRIMARY KEY (key, reason, platform, chat_kind))""",
            "CREATE INDEX IF NOT EXISTS quoth_gaps_last_seen ON quoth_gaps (last_seen)",
        ],
        "quoth_answers": [
            f"""CREATE TABLE IF NOT EXISTS quoth_answers (
                id text PRIMARY KEY,
                key text NOT NULL,
                question text NOT NULL,
                quotes text NOT NULL,
                index_version text NOT NULL,
                platform text NOT NULL,
                chat_kind text NOT NULL,
                next_offset integer,
                shown_at {time} NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS quoth_answers_shown_at ON quoth_answers (shown_at)",
        ],
        "quoth_votes": [
            f"""CREATE TABLE IF NOT EXISTS quoth_votes (
                answer_id text NOT NULL REFERENCES quoth_answers (id),
                voter text NOT NULL,
                vote text NOT NULL,
                reason text,
                voted_at {time} NOT NULL,
                PRIMARY KEY (answer_id, voter))""",
            "CREATE INDEX IF NOT EXISTS quoth_votes_voted_at ON quoth_votes (voted_at)",
        ],
    }


def feed_tables(time: str) -> list[str]:
    """The tables with times in the column type ``time``; safe to run again."""
    return [
        f"""CREATE TABLE IF NOT EXISTS quoth_feeds (
            url text PRIMARY KEY,
            title text NOT NULL,
            added_at {time} NOT NULL,
            last_checked {time},
            last_error text,
            failures integer NOT NULL DEFAULT 0,
            etag text,
            last_modified text)""",
        f"""CREATE TABLE IF NOT EXISTS quoth_feed_entries (
            feed text NOT NULL REFERENCES quoth_feeds (url) ON DELETE CASCADE,
            key text NOT NULL,
            link text NOT NULL,
            version text NOT NULL,
            doc_id text,
            text_hash text,
            attempts integer NOT NULL DEFAULT 0,
            error text,
            seen_at {time} NOT NULL,
            PRIMARY KEY (feed, key))""",
        "CREATE INDEX IF NOT EXISTS quoth_feed_entries_hash ON quoth_feed_entries (text_hash)",
    ]
