"""Configuration from ``QUOTH_`` environment variables and an optional ``.env`` file.

Every knob lives here so that the CLI, the bots and the Docker image read one source of truth,
and so that a bad value stops the program at start with one line naming the variable instead
of failing later in the middle of a conversation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    AnyUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from quoth.errors import QuothError

if TYPE_CHECKING:
    from quoth.web.fetch import FetchLimits

ENV_PREFIX = "QUOTH_"
Platform = Literal["telegram", "discord"]


class ConfigError(QuothError):
    """A configuration value is invalid; the message is meant for the operator as is."""


class Settings(BaseSettings):
    """All runtime settings. Field names map to ``QUOTH_<NAME>`` variables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    corpus_dir: Path | None = Field(
        default=None,
        description="Folder of articles; unset: the sample corpus (quoth's own user guide).",
        json_schema_extra={"shown_default": "the sample corpus"},
    )
    index_dir: Path = Field(default=Path("data/index"), description="Where the index is kept.")
    database_url: SecretStr | None = Field(
        default=None,
        description="`postgresql://...`: serve the index and the replicas' shared state from "
        "PostgreSQL with pgvector ([several machines](../operators/replicas.md)); "
        "`QUOTH_INDEX_DIR` then holds the local build cache. Needs "
        "`pip install 'quoth[postgres]'` (the Docker image has it).",
    )
    model: str = Field(
        default="all-MiniLM-L6-v2",
        description="Embedding model: the packaged one, or a folder with a "
        "sentence-transformers model.",
    )
    embedding_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="`torch` (sentence-transformers), `onnx` (the exported fp32 model), "
        "`onnx-int8` (quoth's int8 embedder, shipped inside quoth: what the Docker image "
        "serves with), or `auto`: "
        "`onnx` when `QUOTH_ONNX_DIR/model.onnx` exists, else `torch`.",
    )
    onnx_dir: Path = Field(
        default=Path("data/onnx"),
        description="Where `quoth export-onnx` writes `model.onnx` (and `tokenizer.json`).",
    )
    feedback_file: Path = Field(
        default=Path("data/feedback.sqlite3"),
        description="SQLite file of answers shown, votes, the unanswered-questions log and "
        "the followed feeds (with `QUOTH_DATABASE_URL` all of it is in the database).",
    )
    gaps_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days an unanswered question, an answer shown and its votes are remembered.",
    )
    health_file: Path = Field(
        default=Path("data/health.json"),
        description="Heartbeat written by `quoth serve`, read by `quoth health`.",
    )
    top_k: int = Field(default=3, ge=1, le=10, description="Quotes per answer (1-10).")
    candidates: int = Field(
        default=20, ge=1, le=200, description="Passages retrieved before quotes are chosen."
    )
    retrieval_mode: Literal["dense", "bm25", "hybrid", "rerank"] = Field(
        default="rerank",
        description="`dense`, `bm25`, `hybrid` or `rerank` ([how answers are chosen]"
        "(../answers/index.md)).",
    )
    fusion: Literal["rrf", "convex"] = Field(
        default="rrf", description="How dense and BM25 rankings merge: `rrf` or `convex`."
    )
    reranker: str = Field(
        default="quoth-answer",
        description="Cross-encoder: `quoth-answer` (trained by quoth), "
        "`ms-marco-MiniLM-L-12-v2` (the passage model it was trained from), `none`, or a "
        "folder with `model.onnx` and `tokenizer.json`.",
    )
    rerank_candidates: int = Field(
        default=4, ge=1, le=50, description="Sentences the cross-encoder reads per question."
    )
    read_further: int = Field(
        default=4,
        ge=0,
        le=50,
        description="More sentences the cross-encoder reads when the first read leaves quoth "
        "unsure, between the two cuts (`rerank` mode; 0: never).",
    )
    min_score: float | None = Field(
        default=None,
        description="Least confidence (0-1, `rerank` mode) or score (other modes) to answer; "
        "unset: the calibrated one ([the refusal decision]"
        "(../answers/index.md#the-refusal-decision-and-how-it-was-fitted)).",
        json_schema_extra={"shown_default": "calibrated"},
    )
    min_claim: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Least confidence (0-1, `rerank` mode) at which the best quote is shown as "
        "the answer, in bold; below it quoth shows the closest passages and claims nothing. "
        "Unset: the calibrated one "
        "([three answer states](../answers/index.md#three-answer-states)).",
        json_schema_extra={"shown_default": "calibrated"},
    )
    threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="CPU threads for the ONNX models (embedder and cross-encoder).",
    )
    passage_sentences: int = Field(default=3, ge=1, le=20, description="Sentences per passage.")
    passage_overlap: int = Field(
        default=2, ge=0, le=19, description="Sentences shared by neighbouring passages."
    )
    max_question_chars: int = Field(
        default=500, ge=10, le=4000, description="Longest question accepted."
    )

    telegram_token: SecretStr | None = Field(
        default=None, description="Bot token from @BotFather (Telegram)."
    )
    telegram_api_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://api.telegram.org"),
        description="Bot API server root, for a self-hosted Bot API server.",
    )
    moderator_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Telegram user ids allowed to change the corpus, e.g. `123, 456`.",
    )
    rate_limit_per_minute: int = Field(
        default=10, ge=1, le=1000, description="Questions one user may ask per minute."
    )
    context_minutes: float = Field(
        default=15.0,
        ge=0.0,
        le=1440.0,
        description="How long quoth keeps a conversation's last questions (as it read them) "
        "and answers, so a follow-up ('Did he go there too?') is read in their context; "
        "0 reads every question on its own.",
    )
    answer_timeout_s: float = Field(
        default=10.0,
        ge=0.1,
        le=300.0,
        description="Longest a chat waits for an answer (a database that stopped answering) "
        "before quoth says to try again in a moment.",
    )
    max_upload_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=20 * 1024 * 1024,
        description="Largest article file (text, PDF, Word) a moderator may upload.",
    )
    fetch_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        le=50 * 1024 * 1024,
        description="Largest web page (its HTML), PDF, Word file or feed a link may point to.",
    )
    fetch_timeout_s: float = Field(
        default=15.0, gt=0, le=120, description="Seconds to wait for a site."
    )
    fetch_allow_private: bool = Field(
        default=False,
        description="Let links reach private, loopback and link-local addresses (an intranet "
        "wiki); off, the bot cannot be used to probe the host's network.",
    )
    other_languages: bool = Field(
        default=False,
        description="Answer questions in other languages than English too ([questions in "
        "other languages](../users/languages.md)); indexing embeds every passage and "
        "sentence once more, with the multilingual model.",
    )
    refresh_hours: float = Field(
        default=0,
        ge=0,
        le=24 * 365,
        description="`quoth serve` fetches linked articles again this often and reindexes "
        "what changed; `0`: never (run `quoth refresh` from cron instead).",
    )
    feed_interval: float = Field(
        default=30,
        ge=0,
        le=7 * 24 * 60,
        description="Minutes between refreshes of the [followed feeds](../moderators/feeds.md) "
        "in `quoth serve` (with replicas, one of them refreshes each feed); `0`: never (run "
        "`quoth feeds refresh` from cron instead).",
    )
    feed_max_entries: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="New entries one feed may add in one refresh; the rest wait for the next.",
    )
    webhook_url: AnyHttpUrl | None = Field(
        default=None,
        description="Public HTTPS URL: switches from long polling to webhook mode (the server "
        "listens on its path).",
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Secret token Telegram must send (required with a webhook)."
    )
    webhook_listen: str = Field(
        default="0.0.0.0",  # a container must listen on all interfaces
        description="Address the webhook server listens on.",
    )
    webhook_port: int = Field(
        default=8443,
        ge=1,
        le=65535,
        description="Port the webhook server listens on (it serves `/metrics` too).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve Prometheus metrics at `/metrics` on this port (polling mode and "
        "Discord); off when unset. A webhook server serves them on its own port.",
    )
    replica: str | None = Field(
        default=None,
        max_length=64,
        description="This process's name, added to every metric as a `replica` label; no "
        "label when unset.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object a line (time, level, logger, message and the "
        "line's fields), for a log system to parse.",
    )

    discord_token: SecretStr | None = Field(
        default=None, description="Bot token from the Discord developer portal (Discord)."
    )
    discord_moderator_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Discord user ids allowed to moderate, e.g. `123, 456`.",
    )
    discord_moderator_role: str | None = Field(
        default=None,
        description="Members with a role of this name moderate too, e.g. `Moderators`.",
    )
    discord_api_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://discord.com/api/v10"),
        description="Discord's REST root, for a proxy (the tests point it at a stand-in).",
    )
    discord_gateway_url: AnyUrl = Field(
        default=AnyUrl("wss://gateway.discord.gg/"),
        description="Discord's gateway, for a proxy (the tests point it at a stand-in).",
    )
    platforms: Annotated[list[Platform], NoDecode] = Field(
        default_factory=list,
        description="What `quoth serve` runs: `telegram`, `discord` or `telegram, discord`.",
        json_schema_extra={"shown_default": "every platform with a token"},
    )

    def fetch_limits(self) -> FetchLimits:
        from quoth.web.fetch import FetchLimits

        return FetchLimits(self.fetch_timeout_s, self.fetch_max_bytes, self.fetch_allow_private)

    @field_validator("moderator_ids", "discord_moderator_ids", "platforms", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept ``"1, 2 3"`` from the environment, as operators write it."""
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("passage_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info: object) -> int:
        size = getattr(info, "data", {}).get("passage_sentences")
        if size is not None and value >= size:
            raise ValueError("must be smaller than QUOTH_PASSAGE_SENTENCES")
        return value

    @model_validator(mode="after")
    def _confidence_in_rerank_mode(self) -> Settings:
        """A threshold carried over from another mode (or the old logit scale) would refuse
        everything in ``rerank`` mode, where it is a confidence."""
        score = self.min_score
        if self.retrieval_mode == "rerank" and score is not None and not 0.0 <= score <= 1.0:
            raise ValueError(
                f"QUOTH_MIN_SCORE is a confidence between 0 and 1 in rerank mode (got {score})"
            )
        return self

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("QUOTH_WEBHOOK_SECRET must be set when QUOTH_WEBHOOK_URL is set")
        return self

    def api_root(self) -> str:
        return str(self.telegram_api_url).rstrip("/")

    def discord_api_root(self) -> str:
        return str(self.discord_api_url).rstrip("/")

    def serving_platforms(self) -> list[Platform]:
        """The platforms to serve: those asked for, each with its token, or all configured."""
        tokens: dict[Platform, SecretStr | None] = {
            "telegram": self.telegram_token,
            "discord": self.discord_token,
        }
        if not self.platforms:
            chosen: list[Platform] = [name for name, token in tokens.items() if token is not None]
            if not chosen:
                raise ConfigError(
                    "Nothing to serve: set QUOTH_TELEGRAM_TOKEN (from @BotFather) or "
                    "QUOTH_DISCORD_TOKEN (from the Discord developer portal)."
                )
            return chosen
        for name in dict.fromkeys(self.platforms):
            if tokens[name] is None:
                raise ConfigError(f"QUOTH_{name.upper()}_TOKEN is not set, so {name} cannot run.")
        return list(dict.fromkeys(self.platforms))


def describe_validation_error(error: ValidationError) -> str:
    """Turn pydantic's multi-line report into one line per bad variable, named as set."""
    lines = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in item["loc"])
        lines.append(f"{ENV_PREFIX}{field.upper()}: {message}" if field else message)
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read settings, raising :class:`ConfigError` with a one-line message when invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(f"Invalid configuration: {describe_validation_error(error)}") from None
