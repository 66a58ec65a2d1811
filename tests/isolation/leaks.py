"""The leak scan: which of acme's secrets an answer to someone else contains."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def sent_text(*parts: Any) -> str:
    """What the attacker sent (paths, bodies, arguments), as one text."""
    return " ".join(part if isinstance(part, str) else json.dumps(part) for part in parts)


def leaked(answer: str, secrets: Iterable[str], *, sent: str = "") -> list[str]:
    """The secrets found anywhere in `answer` (case-insensitively), except those the attacker sent.

    An attacker's own input echoed back ("no agent named 'x'") reveals nothing they did not know.
    """
    haystack, echoed = answer.lower(), sent.lower()
    return [secret for secret in secrets if secret.lower() in haystack and secret.lower() not in echoed]
