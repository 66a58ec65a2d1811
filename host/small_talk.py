"""Greetings, thanks, goodbyes and "what can you do?": messages that ask no agent for anything.

Routed, they went to whichever agent's examples lay nearest ("Bạn làm được gì?" reached the
knowledge agent and got the return policy) or were called out of scope ("hello": "I can't help
with that"). A message is small talk only when all of it is: "hi, what does MST 3428557611 owe?"
is routed as usual.
"""

from __future__ import annotations

from typing import Literal, get_args

from host.text import words

SmallTalk = Literal["greeting", "thanks", "farewell", "capabilities"]
SMALL_TALK: frozenset[str] = frozenset(get_args(SmallTalk))

# Folded phrases (accents and case do not matter), English and Vietnamese.
_PHRASES: dict[SmallTalk, tuple[str, ...]] = {
    "greeting": (
        "hi", "hello", "hey", "hiya", "good morning", "good afternoon", "good evening", "greetings",
        "xin chao", "chao", "alo", "chao buoi sang", "chao buoi chieu", "chao buoi toi",
    ),
    "thanks": (
        "thanks", "thank you", "thanks a lot", "thx", "many thanks", "great", "perfect", "got it",
        "cam on", "xin cam on", "cam on nhieu", "tot qua", "tuyet voi", "da hieu",
    ),
    "farewell": ("bye", "goodbye", "good bye", "see you", "see you later", "tam biet", "hen gap lai"),
    "capabilities": (
        "what can you do", "what do you do", "what can you help with", "what can you help me with",
        "how can you help", "how can you help me", "what are you", "who are you", "help",
        "ban lam duoc gi", "ban co the lam gi", "ban giup duoc gi", "ban co the giup gi",
        "ban giup duoc nhung gi", "ban lam duoc nhung gi", "ban la ai", "tro giup", "huong dan",
    ),
}  # fmt: skip
# Words around a phrase that do not change it: addressing the assistant, politeness particles.
_FILLER = frozenset(
    {"ok", "okay", "oh", "so", "very", "much", "please", "there", "bot", "assistant"}
    | {"ban", "minh", "a", "oi", "nhe", "nha", "ha", "em", "anh", "chi"}
)
# Which kind a message of several answers to: "hi, what can you do?" asks what it can do.
_PRECEDENCE: tuple[SmallTalk, ...] = ("capabilities", "farewell", "thanks", "greeting")
_MAX_WORDS = 10


def small_talk(message: str) -> SmallTalk | None:
    """The kind of small talk `message` is, or None when any of it asks for something else."""
    said = [word for word in words(message) if word not in _FILLER]
    if not said or len(said) > _MAX_WORDS:
        return None
    found: set[SmallTalk] = set()
    at = 0
    while at < len(said):
        match = _longest_phrase_at(said, at)
        if match is None:
            return None
        kind, length = match
        found.add(kind)
        at += length
    return next(kind for kind in _PRECEDENCE if kind in found)


def _without_filler(phrase: str) -> str:
    return " ".join(word for word in phrase.split() if word not in _FILLER)


_SAID: dict[SmallTalk, tuple[str, ...]] = {
    kind: tuple(_without_filler(phrase) for phrase in phrases) for kind, phrases in _PHRASES.items()
}


def _longest_phrase_at(said: list[str], at: int) -> tuple[SmallTalk, int] | None:
    best: tuple[SmallTalk, int] | None = None
    for kind, phrases in _SAID.items():
        for phrase in phrases:
            length = phrase.count(" ") + 1
            if " ".join(said[at : at + length]) == phrase and (best is None or length > best[1]):
                best = (kind, length)
    return best
