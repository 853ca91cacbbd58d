"""The picture of an answer in a chat, for the README and the documentation's home page.

    .venv/bin/python scripts/answer_picture.py OUT.png ["QUESTION"] [HEIGHT] [--after "FIRST"]

A real answer from quoth's own user guide (the sample corpus: quoth's own text, so the picture
copies nobody's articles), rendered by the Telegram renderer exactly as the bot sends it,
placed in a chat-like page (the question as the person's message, the answer as the bot's
with its buttons), and captured with headless Chromium. Whatever state the answer is in (the
answer, the closest passages, or a refusal, which has no buttons) is shown as the bot sends
it: the answers page has a picture of each. ``--after`` asks FIRST before QUESTION in the same
conversation and shows both exchanges: a follow-up, with the line saying how it was read.
"""

from __future__ import annotations

import argparse
import html
import os
import subprocess
import tempfile
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from quoth import runtime
from quoth.bot import telegram_html
from quoth.config import load_settings
from quoth.messages import MORE_LABEL
from quoth.retrieval.followup import Turn

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #dfe7ee; font: 15px/1.4 -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; }}
.chat {{ width: 560px; padding: 18px; }}
.bubble {{ border-radius: 12px; padding: 8px 12px; margin: 8px 0; max-width: 470px;
  box-shadow: 0 1px 1px rgba(0,0,0,.12); white-space: pre-wrap; }}
.mine {{ background: #e2ffc7; margin-left: auto; width: fit-content; }}
.bot {{ background: #fff; }}
.name {{ color: #3a8bd0; font-weight: 600; margin-bottom: 2px; }}
blockquote {{ margin: 4px 0; padding: 2px 8px; border-left: 3px solid #3a8bd0;
  background: #eef5fb; border-radius: 4px; }}
a {{ color: #2a7bc0; text-decoration: none; }}
.buttons {{ display: flex; gap: 6px; max-width: 494px; }}
.buttons div {{ flex: 1; text-align: center; background: rgba(80,110,140,.35); color: #fff;
  border-radius: 8px; padding: 7px 0; font-weight: 600; }}
</style></head><body><div class="chat">
{earlier}<div class="bubble mine">{question}</div>
<div class="bubble bot"><div class="name">quoth</div>{answer}</div>
{buttons}
</div></body></html>"""
BUTTONS = '<div class="buttons"><div>👍</div><div>👎</div><div>{more}</div></div>'


EARLIER = '<div class="bubble mine">{question}</div>\n<div class="bubble bot">{answer}</div>\n'


def main(out: Path, question: str, height: int = 320, after: str | None = None) -> None:
    work = Path(tempfile.mkdtemp(prefix="quoth-answer-picture-"))
    settings = load_settings(index_dir=work / "index", corpus_dir=runtime.sample_corpus_dir())
    embedder = runtime.embedder_for(settings)
    runtime.reindex(settings, embedder)
    service = runtime.open_service(settings, embedder)
    earlier, context = "", []
    if after is not None:
        first = service.answer(after, limit=1)
        context = [Turn.of(first)]
        shown = telegram_html.render_answer(first, "quoth_bot", limit=400)
        earlier = EARLIER.format(question=html.escape(after), answer=shown)
    answer = service.answer(question, context=context)
    rendered = telegram_html.render_answer(answer, "quoth_bot")
    page = work / "answer.html"
    page.write_text(
        PAGE.format(
            earlier=earlier,
            question=html.escape(question),
            answer=rendered,
            buttons=BUTTONS.format(more=MORE_LABEL) if answer.shows_quotes else "",
        ),
        encoding="utf-8",
    )
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={out.resolve()}", f"--window-size=600,{height}", page.as_uri()],
        check=True, capture_output=True,
    )  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("question", nargs="?", default="How do I add articles?")
    parser.add_argument("height", nargs="?", type=int, default=320)
    parser.add_argument("--after", help="A question asked first, in the same conversation.")
    arguments = parser.parse_args()
    main(arguments.out, arguments.question, arguments.height, arguments.after)
