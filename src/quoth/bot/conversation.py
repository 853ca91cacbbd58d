"""What happens when someone asks, or a moderator adds, removes, reindexes or looks at the
numbers: one layer that knows no chat platform.

Adapters parse their platform's update into plain values (who, what), call one method here
and render the :class:`Reply`. So Telegram and Discord cannot drift apart in what a person
may do, what they are told, or what is logged, and these flows are tested once, with plain
calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from quoth import metrics
from quoth.bot.library import Library, ModerationError
from quoth.disk import DiskFullError
from quoth.errors import QuothError
from quoth.feedback import (
    CLOSEST,
    DOWN,
    REASONS,
    REFUSED,
    UP,
    ShownAnswer,
    VoteOutcome,
    describe_gaps,
)
from quoth.index.store import ArticleRecord
from quoth.language import detect, script_language
from quoth.messages import N_, Translate, choose, translator
from quoth.retrieval import Answer, QuestionError
from quoth.retrieval.followup import Turn

log = logging.getLogger("quoth.conversation")

BEST_EFFORT_S = 2.0
"""How long a reply waits for a write it does not depend on (counting, the gaps log)."""
SOMETHING_WRONG = N_("Sorry, something went wrong on my side. Please try again in a moment.")
NOT_A_MODERATOR = N_("Sorry, only moderators can do that.")
REINDEX_STARTED = "Reindexing in the background; I keep answering meanwhile."
REINDEX_RUNNING = "A reindex is already running; I'll report when it ends."
EXPIRED = N_("That button belongs to an answer I no longer have on record. Please ask again.")
VOTED = {UP: N_("Thanks! Noted your 👍."), DOWN: N_("Noted your 👎. What was wrong with it?")}
VOTE_SAME = N_("You already voted that on this answer.")
NOTED = N_("Thanks — noted: {reason}.")
ASKING_QUICKLY = N_("You're asking quickly! Please wait {seconds} s and ask again.")
FOLLOW_UP_HELP = N_(
    "Follow-up questions are read in the context of your last ones, or of the answer you "
    "reply to; /new starts over."
)
STARTING_OVER = N_("Starting over: I'll read your next question on its own.")
NOT_AN_ANSWER = ""
"""``replying_to`` for a reply to a message that is not one of quoth's answers: the
question is read as sent, not in the conversation's context."""

LONE_LINK = re.compile(r"<?https?://\S+>?", re.IGNORECASE)
DEFAULT_GAP_DAYS = 7
GAPS_PER_PAGE = 10

Report = Callable[[str], Awaitable[object]]
"""Sends a later message (a background reindex's outcome) to where the request came from."""
Fetch = Callable[[], Awaitable[bytes]]
"""Downloads an uploaded file; raises :class:`ModerationError` with a message on failure."""


@dataclass(frozen=True, slots=True)
class Person:
    """Who is asking, as every platform can say it."""

    platform: str
    user_id: int
    moderator: bool = False
    language: str | None = None
    """The language the person's chat app is set to, as the platform names it."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A text, or an answer to render; ``private`` replies concern only the person asking
    (Discord shows them to that person alone)."""

    text: str = ""
    answer: Answer | None = None
    private: bool = False
    answer_id: str | None = None
    """The stored answer its buttons refer to (votes, "More"); None: no buttons."""
    reasons: tuple[tuple[str, str], ...] = ()
    """Reasons (code, label) the person may pick next, after a 👎."""
    language: str = "en"
    """What quoth speaks in this reply (:mod:`quoth.messages`); quotes keep their own."""
    alert: bool = False
    """Something went wrong with what the person pressed: show it so they notice."""

    @property
    def translate(self) -> Translate:
        return translator(self.language)


def speaks(person: Person, question: str | None = None, detector: bool = False) -> str:
    """The language of quoth's replies to ``person``: their app's, when quoth speaks it,
    else the question's (when it is surely not English), else English.

    The question's language comes from the detector only where it is loaded anyway
    (``detector``: questions in other languages are answered, so each one is routed by it);
    otherwise from its script, which costs nothing (the detector holds ~80 MB)."""
    own = choose(person.language)
    if person.language and (own != "en" or person.language.lower().startswith("en")):
        return own
    if not question:
        return "en"
    if not detector:
        return choose(script_language(question))
    found = detect(question)  # short Russian can read as Bulgarian: then the script decides
    return choose(None if found.english else found.code, script_language(question))


def conversation_key(person: Person, where: str) -> str:
    """Who asks where, as the context store keys it: a hash, so no user or chat id is kept
    beside the turns (one person in a private chat; each person apart in a group, a forum
    topic or a thread)."""
    who = f"{person.platform}:{where}:{person.user_id}".encode()
    return hashlib.sha256(who).hexdigest()[:32]


def _expired(person: Person) -> Reply:
    language = speaks(person)
    return Reply(translator(language)(EXPIRED), private=True, language=language, alert=True)


class Conversation:
    """The flows of one bot over one library. It keeps nothing of its own (the library
    holds the state), so each adapter of a process may have its own."""

    def __init__(self, library: Library) -> None:
        self.library = library

    # -- asking -------------------------------------------------------------------------------

    async def ask(
        self,
        person: Person,
        question: str,
        via: str,
        *,
        as_typed: bool = False,
        where: str | None = None,
        replying_to: str | None = None,
    ) -> Reply:
        """Answer within the person's question budget; ``via`` names how they asked (for
        the log line: private, group, slash, mention, inline...).

        ``as_typed``: the question arrives while it is being typed (Telegram's inline mode
        sends a query at each pause), so it has a budget of its own and a refusal is not
        logged as a gap (half a question is no gap in the corpus), and no conversation.

        ``where``: the place of the conversation (a chat, a forum topic, a channel or thread):
        with the person, it keys the context a follow-up is read in; None asks statelessly.
        ``replying_to``: the id of the quoth answer the message replies to, which is then the
        context (even an older one); :data:`NOT_AN_ANSWER` for a reply to anything else,
        read as sent."""
        language = speaks(person, question, self.library.settings.other_languages)
        translate = translator(language)
        budget = f"{person.platform}{'-typed' if as_typed else ''}:{person.user_id}"
        key = None if as_typed or where is None else conversation_key(person, where)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.library.settings.answer_timeout_s):
                wait = await asyncio.to_thread(self.library.state.acquire, budget)
                if wait:
                    metrics.QUESTIONS.labels(person.platform, via, "rate_limited").inc()
                    text = translate(ASKING_QUICKLY).format(seconds=max(1, round(wait)))
                    return Reply(text, private=True, language=language)
                context = await self._context(key, replying_to)
                answer = await asyncio.to_thread(
                    self.library.service.answer, question, None, 0, None, context
                )
        except TimeoutError:  # the worker thread finishes on its own; the chat is not kept waiting
            metrics.QUESTIONS.labels(person.platform, via, "timed_out").inc()
            log.warning(
                "question timed out after %.1f s platform=%s via=%s (is the database answering?)",
                time.perf_counter() - started, person.platform, via,
            )  # fmt: skip
            return Reply(translate(SOMETHING_WRONG), private=True, language=language)
        except QuestionError as error:
            metrics.QUESTIONS.labels(person.platform, via, "invalid").inc()
            text = translate(error.template).format(**error.values)
            return Reply(text, private=True, language=language)
        except Exception:
            metrics.QUESTIONS.labels(person.platform, via, "failed").inc()
            raise
        metrics.QUESTIONS.labels(person.platform, via, answer.state.outcome).inc()
        metrics.observe_answer(person.platform, answer.timings, time.perf_counter() - started)
        if answer.follow_up:
            outcome = "resolved" if answer.read_as else "unresolved"
            metrics.FOLLOW_UPS.labels(person.platform, outcome).inc()
        if key is not None:
            await self._best_effort(
                "keep the conversation's context", self.library.state.remember, key, Turn.of(answer)
            )
        await self._best_effort("count an answer", self.library.record, answer)
        if not answer.answered and not as_typed:  # closest passages are a gap too: not stated
            reason = CLOSEST if answer.shows_quotes else REFUSED
            await self._log_gap(answer.question, reason, person.platform, via)
        answer_id = None if as_typed else await self._remember(answer, person.platform, via)
        fields = {
            "platform": person.platform,
            "via": via,
            "latency_ms": round((time.perf_counter() - started) * 1000),
            "state": answer.state.value,
            "top_score": round(answer.top_score, 3),
            "follow_up": answer.follow_up or "-",
            "resolved": answer.read_as is not None,
        }
        log.info("question %s", " ".join(f"{k}={v}" for k, v in fields.items()), extra=fields)
        return Reply(answer=answer, answer_id=answer_id, language=language)

    async def _context(self, key: str | None, replying_to: str | None) -> list[Turn]:
        """The turns a question is read after: the answer replied to, or the conversation's
        last turns. A store that fails or stalls costs the context, never the answer."""
        if replying_to == NOT_AN_ANSWER:
            return []
        found: list[Turn] = []

        def read() -> None:
            if replying_to is not None:
                shown = self.library.feedback.shown_answer(replying_to)
                if shown is not None and shown.sentences:
                    first = shown.sentences[0]
                    turn = Turn(shown.question, shown.state, first, shown.phrase, shown.document_id)
                    found.append(turn)
            elif key is not None:
                found.extend(self.library.state.context(key))

        if replying_to is None and key is None:
            return []
        await self._best_effort("read the conversation's context", read)
        return found

    async def forget(self, person: Person, where: str) -> Reply:
        """``/new``: the next question is read on its own."""
        language = speaks(person)
        await self._best_effort(
            "forget the conversation's context",
            self.library.state.forget,
            conversation_key(person, where),
        )
        return Reply(translator(language)(STARTING_OVER), private=True, language=language)

    async def _best_effort(self, what: str, write: Callable[..., object], *args: object) -> bool:
        """A write the reply does not depend on, off the event loop and bounded in time: a
        database that stopped answering must not hold the reply (nor, on the event loop,
        every other chat). Whether it was done; a failure is logged, never raised."""
        try:
            async with asyncio.timeout(BEST_EFFORT_S):
                await asyncio.to_thread(write, *args)
        except TimeoutError:
            log.warning(
                "could not %s within %.0f s; the reply goes without it", what, BEST_EFFORT_S
            )
            return False
        except Exception:
            log.exception("could not %s", what)
            return False
        return True

    async def _remember(self, answer: Answer, platform: str, via: str) -> str | None:
        """Store an answer with quotes so its buttons work on any replica and after a
        restart; without storage it is still shown, just without buttons."""
        if not answer.shows_quotes:
            return None
        shown = ShownAnswer(
            secrets.token_urlsafe(9),
            answer.question,
            tuple(quote.passage_id for quote in answer.quotes),
            tuple(quote.sentence for quote in answer.quotes),
            self.library.index_version(),
            platform,
            via,
            answer.next_offset,
            answer.state.value,
            answer.quotes[0].phrase.text if answer.quotes[0].phrase is not None else None,
            answer.quotes[0].document_id,
        )
        stored = await self._best_effort(
            "store an answer (it is shown without buttons)",
            self.library.feedback.record_answer,
            shown,
        )
        return shown.id if stored else None

    async def _log_gap(self, question: str, reason: str, platform: str, via: str) -> None:
        """Into the unanswered-questions log; a storage failure must not cost the reply."""
        await self._best_effort(
            "log an unanswered question",
            self.library.feedback.record_gap,
            question,
            reason,
            platform,
            via,
        )

    async def more(self, person: Person, answer_id: str) -> Reply:
        """The next quotes of an answer already given (its "More" button)."""
        shown = await asyncio.to_thread(self.library.feedback.shown_answer, answer_id)
        if shown is None or shown.next_offset is None:
            return _expired(person)
        language = speaks(person, shown.question, self.library.settings.other_languages)
        answer = await asyncio.to_thread(
            self.library.service.answer, shown.question, None, shown.next_offset
        )
        following = await self._remember(answer, person.platform, shown.chat_kind)
        return Reply(answer=answer, answer_id=following, language=language)

    async def vote(
        self, person: Person, answer_id: str, vote: str, reason: str | None = None
    ) -> Reply:
        """👍 or 👎 (with a reason, or asked for one next); one per person per answer, and a
        new one replaces the old. Always private: a group shares the buttons, not the votes."""
        language = speaks(person)
        translate = translator(language)
        if vote not in VOTED or (reason is not None and (vote != DOWN or reason not in REASONS)):
            return _expired(person)
        voter = hashlib.sha256(f"{person.platform}:{person.user_id}:{answer_id}".encode())
        outcome = await asyncio.to_thread(
            self.library.feedback.vote, answer_id, voter.hexdigest()[:32], vote, reason
        )
        fields = {"vote": vote, "reason": reason, "outcome": outcome.value}
        log.info("vote %s reason=%s outcome=%s", vote, reason, outcome.value, extra=fields)
        if outcome is VoteOutcome.UNKNOWN_ANSWER:
            return _expired(person)
        if reason is not None:
            metrics.VOTE_REASONS.labels(reason).inc()
        elif outcome is not VoteOutcome.SAME:
            metrics.VOTES.labels(vote).inc()
        if reason is not None:
            text = translate(NOTED).format(reason=translate(REASONS[reason]))
            return Reply(text, private=True, language=language)
        if outcome is VoteOutcome.SAME and vote == UP:
            return Reply(translate(VOTE_SAME), private=True, language=language)
        choices = tuple(REASONS.items()) if vote == DOWN else ()
        return Reply(translate(VOTED[vote]), private=True, reasons=choices, language=language)

    def article(self, doc_id: str) -> ArticleRecord | None:
        return next((a for a in self.library.service.index.articles if a.id == doc_id), None)

    # -- moderating ---------------------------------------------------------------------------

    def _refused(self, person: Person, action: str) -> Reply | None:
        if person.moderator:
            return None
        log.warning(
            "refused %s for a non-moderator platform=%s",
            action,
            person.platform,
            extra={"action": action, "platform": person.platform},
        )
        log.debug("refused %s for user=%s", action, person.user_id)  # ids only at debug
        language = speaks(person)
        return Reply(translator(language)(NOT_A_MODERATOR), private=True, language=language)

    async def gaps(self, person: Person, days: int | None = None, page: int = 1) -> Reply:
        """The most asked unanswered questions of the last ``days``, a page at a time."""
        if refused := self._refused(person, "gaps"):
            return refused
        days = DEFAULT_GAP_DAYS if days is None else days
        if not 1 <= days <= 3650 or page < 1:
            return Reply("Usage: /gaps [DAYS] [PAGE], e.g. /gaps 30 2", private=True)
        feedback = self.library.feedback
        await asyncio.to_thread(feedback.prune, self.library.settings.gaps_retention_days)
        first = (page - 1) * GAPS_PER_PAGE
        found = await asyncio.to_thread(feedback.gaps, days, GAPS_PER_PAGE + 1, first)
        text = describe_gaps(found[:GAPS_PER_PAGE], days, first + 1)
        if len(found) > GAPS_PER_PAGE:
            text += f"\nMore: /gaps {days} {page + 1}"
        return Reply(text, private=True)

    def stats(self, person: Person) -> Reply:
        return self._refused(person, "stats") or Reply(self.library.stats_text(), private=True)

    async def reindex(self, person: Person, report: Report) -> Reply:
        if refused := self._refused(person, "reindex"):
            return refused
        if self.library.reindexing:
            return Reply(REINDEX_RUNNING)
        self.library.reindex_in_background(report)
        return Reply(REINDEX_STARTED)

    async def add_file(
        self, person: Person, name: str, size: int | None, fetch: Fetch, report: Report
    ) -> Reply:
        """Check, download, validate and store an article file, then index it at once."""
        if refused := self._refused(person, "upload"):
            return refused
        limit = self.library.settings.max_upload_bytes
        try:
            if size is not None and size > limit:
                raise ModerationError(f"That file is too large; the limit is {limit // 1024} KB.")
            data = await fetch()  # reading a long PDF takes a while: not on the event loop
            saved = await asyncio.to_thread(self.library.save_upload, name, data)
        except ModerationError as error:
            return Reply(str(error))
        except DiskFullError as error:  # the operator's to fix: in the log as well
            log.error("upload not saved: %s", error)
            return Reply(str(error))
        log.info(
            "upload id=%s replaced=%s platform=%s",
            saved.doc_id,
            saved.replaced,
            person.platform,
            extra={"doc_id": saved.doc_id, "replaced": saved.replaced, "platform": person.platform},
        )
        log.debug("upload id=%s by user=%s", saved.doc_id, person.user_id)
        reply = Reply(self.library.upload_reply(saved))
        if not self.library.reindexing:
            self.library.reindex_in_background(report)
        return reply

    async def add_link(self, person: Person, url: str, report: Report) -> Reply:
        """Fetch a linked page, keep its article, say what it is, then index it."""
        if refused := self._refused(person, "add link"):
            return refused
        if not url:
            return Reply("Usage: /add https://… (a link to an article page).", private=True)
        try:
            saved = await asyncio.to_thread(self.library.save_link, url.strip().strip("<>"))
        except QuothError as error:  # the link (fetch, page, article) or the corpus folder
            return Reply(str(error))
        fields = {"doc_id": saved.doc_id, "outcome": saved.outcome, "platform": person.platform}
        log.info(
            "link id=%(doc_id)s outcome=%(outcome)s platform=%(platform)s", fields, extra=fields
        )
        about = f"“{saved.title}” ({saved.doc_id}), {saved.passages} passages"
        if saved.outcome == "unchanged":
            return Reply(f"Already in my sources, unchanged: {about}.")
        verb = "Added" if saved.outcome == "added" else "Updated"
        if self.library.reindexing:
            return Reply(f"{verb} {about}. A reindex is running; ask for one when it ends.")
        self.library.reindex_in_background(report)
        return Reply(f"{verb} {about}. Indexing it now…")

    async def follow(self, person: Person, url: str, report: Report) -> Reply:
        """Follow a feed: check it, add its entries as articles, then index them."""
        if refused := self._refused(person, "follow"):
            return refused
        if not url:
            return Reply(
                "Usage: /follow https://… (an RSS or Atom feed, or a page naming one).",
                private=True,
            )
        try:
            added = await asyncio.to_thread(self.library.follow_feed, url.strip().strip("<>"))
        except QuothError as error:  # the feed (fetch, XML, already followed) or the store
            return Reply(str(error))
        log.info("follow feed=%s platform=%s", added.url, person.platform)
        from quoth.feeds.refresh import counted, describe_feeds_refresh

        lines = describe_feeds_refresh([added]).splitlines()[1:]
        text = f"Following {added.url}. " + (
            f"It added {counted(len(added.added), 'article')}."
            if added.added
            else "It added no articles yet."
        )
        text = "\n".join([text, *lines])
        if not added.changed:
            return Reply(text)
        if self.library.reindexing:
            return Reply(text + "\nA reindex is running; ask for one when it ends.")
        self.library.reindex_in_background(report)
        return Reply(text + "\nIndexing them now…")

    async def unfollow(self, person: Person, argument: str, report: Report) -> Reply:
        """Stop following a feed; ``URL --with-articles`` removes what it added too."""
        if refused := self._refused(person, "unfollow"):
            return refused
        words = argument.split()
        with_articles = "--with-articles" in words
        urls = [word for word in words if word != "--with-articles"]
        if len(urls) != 1:
            return Reply("Usage: /unfollow URL [--with-articles] (see /feeds).", private=True)
        try:
            added = await asyncio.to_thread(self.library.unfollow_feed, urls[0], with_articles)
        except QuothError as error:
            return Reply(str(error), private=True)
        if not with_articles:
            keep = "remove them with /unfollow URL --with-articles"
            return Reply(f"Stopped following it; its {len(added)} articles stay ({keep}).")
        self.library.reindex_in_background(report)
        return Reply(f"Stopped following it and removed its {len(added)} articles. Reindexing…")

    async def feeds(self, person: Person) -> Reply:
        if refused := self._refused(person, "feeds"):
            return refused
        try:
            return Reply(await asyncio.to_thread(self.library.feeds_text), private=True)
        except QuothError as error:
            return Reply(str(error), private=True)

    @staticmethod
    def adds_link(person: Person, text: str) -> bool:
        """A moderator's private message that is only a link adds that article; anything
        else (and anyone else's link) is a question."""
        return person.moderator and LONE_LINK.fullmatch(text.strip()) is not None

    async def remove(self, person: Person, doc_id: str, report: Report) -> Reply:
        if refused := self._refused(person, "remove"):
            return refused
        if not doc_id:
            return Reply("Usage: /remove ID (see /sources for the ids).", private=True)
        try:
            removed = self.library.remove(doc_id)
        except ModerationError as error:
            return Reply(str(error), private=True)
        log.info("removed %s", ", ".join(path.name for path in removed))
        self.library.reindex_in_background(report)
        return Reply(f"Removed {doc_id}. Reindexing…")
