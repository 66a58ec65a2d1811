"""What a turn is asked: the caller's message, with the session's window and memory."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from host.caller import Caller
from host.language import DEFAULT_LANGUAGE, Language, detect_language
from host.models.base import Attachment, Message

LAST_AGENT_KEY = "_agent"
"""Session memory key of the agent that answered last (for follow-ups)."""
LANGUAGE_KEY = "_language"
"""Session memory key of the language the conversation is in (for messages too short to tell)."""


class TurnInput(BaseModel):
    """One user message to answer, with the session's window and memory."""

    caller: Caller
    message: str
    history: list[Message] = Field(default_factory=list)
    memory: dict[str, Any] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)
    agent: str | None = Field(default=None, description="answer with this agent instead of routing")
    language: Language | None = Field(default=None, description="the user's language; None: detect it")
    preferred_language: Language | None = Field(
        default=None,
        description="the reader's language when neither the message nor the conversation tells (a bare "
        "tax code): the console's interface language",
    )

    def user_language(self, default: Language = DEFAULT_LANGUAGE) -> Language:
        """The language to answer in: given, else the message's, else the conversation's, else the
        preferred one, else `default`."""
        if self.language is not None:
            return self.language
        remembered = self.memory.get(LANGUAGE_KEY)
        fallback: Language = remembered if remembered in ("en", "vi") else self.preferred_language or default
        return detect_language(self.message, fallback=fallback)
