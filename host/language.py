"""The language a user wrote in, so everything they read comes back in it.

Two languages are served: Vietnamese (accented or typed without accents) and English. A message
too short to tell (a bare tax code, "ok") takes the conversation's earlier language, else the
tenant's default.
"""

from __future__ import annotations

from typing import Literal

from host.text import looks_vietnamese, words

Language = Literal["en", "vi"]
LANGUAGES: tuple[Language, ...] = ("en", "vi")
DEFAULT_LANGUAGE: Language = "en"

_MIN_WORDS_TO_TELL = 2

ANSWER_IN: dict[Language, str] = {"en": "Answer in English.", "vi": "Trả lời bằng tiếng Việt."}
"""What a language model is told, so that its answer is in the user's language."""


def instructed(system_prompt: str, language: Language) -> str:
    """An agent's instructions with the language of the answer added."""
    return f"{system_prompt}\n\n{ANSWER_IN[language]}" if system_prompt else ANSWER_IN[language]


def detect_language(message: str, *, fallback: Language = DEFAULT_LANGUAGE) -> Language:
    """`vi` for a Vietnamese message, `en` for another one, `fallback` when it cannot tell."""
    if looks_vietnamese(message):
        return "vi"
    letters = [word for word in words(message) if not word.isdigit()]
    if len(letters) < _MIN_WORDS_TO_TELL:
        return fallback
    return "en"
