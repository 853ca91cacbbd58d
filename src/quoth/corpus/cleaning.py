"""Strip the web furniture that scrapers leave around an article.

Scraped pages carry site banners, "Read more:" links, membership appeals, photo captions
printed twice and "Related Articles" footers. Quoting any of that as an answer would be
embarrassing, so it is removed here, paragraph by paragraph, with rules that describe the
*shape* of boilerplate rather than the wording of one site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_WS = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_END_PUNCT = tuple(".!?…:;\"'”’»)")

# A heading after which a page has only link lists: everything from it on is dropped.
_FOOTER_HEADINGS = re.compile(
    r"^(related( articles| stories| posts| news| coverage)?|most (popular|read|viewed)"
    r"|editor[’']?s?[’']? picks?|recommended( for you| stories)?|more (from|on|stories)\b.*"
    r"|you may also like|trending( now)?|latest( news| stories)?|share this( article)?"
    r"|comments?|tags?:.*|popular posts)$",
    re.IGNORECASE,
)
# Links to other stories inside the body.
_PROMO_LINE = re.compile(
    r"^(read (more|also|next)|also read|see also|related|watch|listen|click here)\b\s*[:|–—-]",
    re.IGNORECASE,
)
# "Explainer | Headline of another story": a kicker label, a pipe, a headline.
_KICKER_LINK = re.compile(r"^[A-Z][\w’' -]{0,30} \| \S")
_CALL_TO_ACTION = re.compile(
    r"\b(become a (member|subscriber|supporter|patron)|subscribe (now|today|to our)"
    r"|sign up (for|to) our|donate (now|today)|support (us|our (work|journalism)))\b",
    re.IGNORECASE,
)
_FIRST_PERSON_PLURAL = re.compile(r"\b(we|we[’']re|we[’']ve|us|our|ours)\b", re.IGNORECASE)
_PHOTO_CREDIT = re.compile(
    r"\b(photo (via|by|credit|courtesy)|photograph:|image (via|credit|courtesy)"
    r"|official photo|getty images|file photo)\b",
    re.IGNORECASE,
)
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE_LINE = re.compile(
    rf"^(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?"
    rf"(?:(?P<m1>{_MONTHS})\s+(?P<d1>\d{{1,2}}),?\s+(?P<y1>\d{{4}})"
    rf"|(?P<d2>\d{{1,2}})\s+(?P<m2>{_MONTHS})\s+(?P<y2>\d{{4}})"
    rf"|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}}))$",
    re.IGNORECASE,
)
_HEADLINE_MAX_WORDS = 25
_SHORT_PARAGRAPH_WORDS = 40


@dataclass(frozen=True, slots=True)
class CleanedPage:
    """The article body plus what the furniture told us about it."""

    text: str
    headline: str | None
    published: str | None


def normalise_whitespace(line: str) -> str:
    """Collapse runs of spaces (including exotic ones) so quotes render cleanly."""
    return _WS.sub(" ", line).strip()


def parse_date_line(line: str) -> str | None:
    """Return an ISO date when a paragraph is nothing but a date, as site datelines are."""
    match = _DATE_LINE.match(line.strip())
    if not match:
        return None
    if match["iso"]:
        return str(match["iso"])
    month, day, year = (
        (match["m1"], match["d1"], match["y1"])
        if match["m1"]
        else (match["m2"], match["d2"], match["y2"])
    )
    try:
        parsed = datetime.strptime(f"{day} {month.title()} {year}", "%d %B %Y")
    except ValueError:
        return None
    return parsed.date().isoformat()


def _words(line: str) -> int:
    return len(line.split())


def _is_headline(line: str) -> bool:
    return (
        _words(line) <= _HEADLINE_MAX_WORDS
        and len(line) <= 200
        and not line.endswith(tuple(".!:;"))
        and not _KICKER_LINK.match(line)
    )


def _cut_footer(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if i > 0 and _words(line) <= 5 and _FOOTER_HEADINGS.match(line.rstrip(":")):
            return lines[:i]
    return lines


def _drop_repeated(lines: list[str]) -> list[str]:
    """Captions printed twice in a row are dropped, both copies: they are not article text."""
    kept: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j + 1 < len(lines) and lines[j + 1] == lines[i]:
            j += 1
        if j == i:
            kept.append(lines[i])
        i = j + 1
    return kept


def _drop_promos(lines: list[str]) -> list[str]:
    """Drop "Read more:" links and kicker links together with the one-line teaser they carry."""
    kept: list[str] = []
    skip_teaser = False
    for line in lines:
        if skip_teaser:
            skip_teaser = False
            if _words(line) <= _SHORT_PARAGRAPH_WORDS and line.count(". ") == 0:
                continue
        if _PROMO_LINE.match(line):
            continue
        if _KICKER_LINK.match(line):
            skip_teaser = True
            continue
        kept.append(line)
    return kept


def _drop_appeals(lines: list[str]) -> list[str]:
    """Drop a call to action and the short "we/our" pitch paragraphs leading up to it."""
    drop: set[int] = set()
    for i, line in enumerate(lines):
        if _CALL_TO_ACTION.search(line) and _words(line) <= _SHORT_PARAGRAPH_WORDS:
            drop.add(i)
            j = i - 1
            while (
                j >= 0
                and _words(lines[j]) <= _SHORT_PARAGRAPH_WORDS
                and _FIRST_PERSON_PLURAL.search(lines[j])
            ):
                drop.add(j)
                j -= 1
    return [line for i, line in enumerate(lines) if i not in drop]


def _is_banner(line: str) -> bool:
    return line.startswith("|") or line.endswith("|") or line.lower().startswith("welcome to ")


def _is_credit(line: str) -> bool:
    return _words(line) <= _SHORT_PARAGRAPH_WORDS and bool(_PHOTO_CREDIT.search(line))


def clean_page(raw: str) -> CleanedPage:
    """Remove boilerplate from a scraped article and pick out its headline and dateline."""
    lines = [normalise_whitespace(line) for line in raw.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    lines = _cut_footer(lines)
    lines = _drop_repeated(lines)
    lines = _drop_promos(lines)
    lines = _drop_appeals(lines)

    published: str | None = None
    body: list[str] = []
    for line in lines:
        date = parse_date_line(line)
        if date is not None:
            published = published or date
            continue
        if _is_banner(line) or _is_credit(line):
            continue
        body.append(line)

    # Logos and section labels ("Media logo", "Armenia") sit above the headline.
    while body and _words(body[0]) < 3 and not body[0].endswith(_END_PUNCT):
        body.pop(0)

    headline = None
    if len(body) > 1 and _is_headline(body[0]):
        headline = body.pop(0)
    return CleanedPage(text="\n".join(body), headline=headline, published=published)
