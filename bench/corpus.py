"""A news-like corpus of any size, grown from the real articles in ``../shared``.

Each real sentence gets variants with other names, numbers, months and years; a generated
article follows one real article's sentences (so topics cluster the way real text does) with
a variant picked for each. Only the pool of distinct variant sentences is embedded with the
real model; a passage vector is the normalised mean of its sentences' vectors. That keeps a
1M-passage index buildable on a 2-core machine, and the benchmark says so in its output.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from quoth.corpus import load_corpus
from quoth.corpus.splitting import sentence_spans

NAMES = [
    "Amina Rahimova",
    "Tariq Mehmood",
    "Elnur Aliyev",
    "Sana Qureshi",
    "Farid Huseynov",
    "Nadia Karimova",
    "Imran Siddiqui",
    "Leyla Mammadova",
    "Omar Farooq",
    "Rashad Guliyev",
    "Ayesha Malik",
    "Kamran Bagirov",
    "Zara Hussain",
    "Orkhan Ismayilov",
    "Bilal Chaudhry",
]
PLACES = [
    "Ganja",
    "Quetta",
    "Sumqayit",
    "Peshawar",
    "Shusha",
    "Multan",
    "Sheki",
    "Hyderabad",
    "Lankaran",
    "Faisalabad",
    "Nakhchivan",
    "Sialkot",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_NAME = re.compile(r"\b[A-Z][a-z]+ [A-Z][a-z]+\b")
_NUMBER = re.compile(r"\b\d+\b")
_MONTH = re.compile(r"\b(" + "|".join(MONTHS) + r")\b")


@dataclass(frozen=True, slots=True)
class GeneratedArticle:
    doc_id: str
    title: str
    paragraphs: list[list[str]]

    @property
    def sentences(self) -> list[str]:
        return [s for paragraph in self.paragraphs for s in paragraph]

    def markdown(self) -> str:
        body = "\n\n".join(" ".join(p) for p in self.paragraphs)
        return f"---\ntitle: {json.dumps(self.title)}\n---\n\n{body}\n"


def real_sentences(articles_dir: Path) -> list[list[str]]:
    """The sentences of each real article, cleaned and split by quoth itself."""
    result = []
    for article in load_corpus(articles_dir).articles:
        result.append([article.text[s:e] for s, e in sentence_spans(article.text)])
    return result


def variant(sentence: str, rng: random.Random) -> str:
    def number(match: re.Match[str]) -> str:
        value = int(match.group())
        if 1900 <= value <= 2030:
            return str(rng.randint(1950, 2026))
        return str(max(1, int(value * rng.uniform(0.3, 3.0)) + rng.randint(0, 9)))

    text = _NUMBER.sub(number, sentence)
    text = _MONTH.sub(lambda _: rng.choice(MONTHS), text)
    if rng.random() < 0.7:
        text = _NAME.sub(lambda _: rng.choice(NAMES), text, count=1)
    if rng.random() < 0.3:
        text = f"In {rng.choice(PLACES)}: {text}"
    return text


def sentence_pool(sources: list[list[str]], per_sentence: int, seed: int) -> list[list[list[str]]]:
    """``pool[article][sentence]`` lists the variants of that real sentence (itself first)."""
    rng = random.Random(seed)
    return [
        [[s, *{variant(s, rng) for _ in range(per_sentence)} - {s}] for s in article]
        for article in sources
    ]


def generate(pool: list[list[list[str]]], passages: int, seed: int) -> list[GeneratedArticle]:
    """Articles totalling about ``passages`` passages (of three sentences, overlapping by two),
    written in paragraphs of three sentences."""
    rng = random.Random(seed)
    articles: list[GeneratedArticle] = []
    total = 0
    while total < passages:
        source = pool[len(articles) % len(pool)]
        chosen = [rng.choice(variants) for variants in source if rng.random() < 0.85]
        chosen = list(dict.fromkeys(chosen))  # a repeated line would be dropped as a caption
        paragraphs = [chosen[i : i + 3] for i in range(0, len(chosen), 3)]
        title = f"{rng.choice(NAMES)} on {rng.choice(PLACES)}: report {len(articles) + 1}"
        articles.append(GeneratedArticle(f"gen-{len(articles):07d}", title, paragraphs))
        total += max(1, len(chosen) - 2)
    return articles
