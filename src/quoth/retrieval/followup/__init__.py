"""Follow-up questions read in the context of the turns before them, without an LLM.

People in a chat ask the way they talk: "Did he go to Lachin too?", "And how?", "What about
Turkey?", "In which year?". Asked alone these lose their subject, so retrieval finds the
wrong passages and the reader cannot judge a sentence against a question with a hole in it.
A rewriting language model is the usual mend; quoth has none and answers in milliseconds on
two cores, so it reads a follow-up with a few rules over the last turn instead:

* a pronoun (*he*, *it*, *their*...), *there* or *then* with nothing in the question it could
  point to is replaced by the last answer's phrase (when the last question asked for that kind
  of thing) or by a name from the last question;
* a fragment with no verb of its own ("In which year?", "And how?", "Why was that?") takes the
  rest of the last question;
* "What about X?" / "And X?" puts X where the last question had a name, a number or a phrase
  of the same shape ("And in 2017?" replaces "in 2016").

A question that shows none of these stands alone and is read exactly as sent, whatever came
before (a new topic must not pick up the old subject), and a follow-up with nothing in the
context that fits is answered as sent too: quoth never invents a subject. The reading is
shown to the person ("Read as: ..."), so a wrong guess is seen and can be asked again in full.

This package knows no chat: a question and the turns before it in, the question as read out.
``turns``: what is kept of a turn, and how a question was read; ``english``: the words and
question shapes it reads; ``reading``: the rules.
"""

from quoth.retrieval.followup.reading import read_in_context
from quoth.retrieval.followup.turns import (
    CONTEXT_TURNS,
    FRAGMENT,
    KINDS,
    PLACE,
    PRONOUN,
    SWITCH,
    TIME,
    Chooser,
    Reading,
    Turn,
)

__all__ = [
    "CONTEXT_TURNS",
    "FRAGMENT",
    "KINDS",
    "PLACE",
    "PRONOUN",
    "SWITCH",
    "TIME",
    "Chooser",
    "Reading",
    "Turn",
    "read_in_context",
]
