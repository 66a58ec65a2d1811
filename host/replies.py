"""Everything the host itself says to a user, once per situation, in English and Vietnamese.

Answers composed from tool results belong to the models (the local planner's templates, an LLM's
own words); these are the host's: why no agent answers, why an agent cannot, why a turn stopped,
and the replies to small talk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from host.language import Language

ReplyKey = Literal[
    "agent_not_enabled",
    "no_agents",
    "agent_unavailable",
    "no_tools",
    "cannot_answer",
    "agent_gone",
    "approvals_unavailable",
    "pending_approval",
    "repeated_call",
    "tool_budget",
    "step_limit",
    "model_failed",
    "model_silent",
    "budget_exceeded",
    "out_of_scope",
    "other_agent",
    "outside_agent",
    "outside_agent_example",
    "greeting",
    "capabilities",
    "thanks",
    "farewell",
]

_REPLIES: dict[ReplyKey, dict[Language, str]] = {
    "agent_not_enabled": {
        "en": (
            "The “{agent}” assistant is not available for your organisation. Available assistants: {offered}."
        ),
        "vi": "Trợ lý “{agent}” không khả dụng cho tổ chức của bạn. Các trợ lý hiện có: {offered}.",
    },
    "no_agents": {
        "en": "No assistant is available for your organisation.",
        "vi": "Không có trợ lý nào khả dụng cho tổ chức của bạn.",
    },
    "agent_unavailable": {
        "en": (
            "The '{agent}' assistant cannot answer right now: the {servers} service is unavailable. "
            "Other assistants keep working; please try again shortly."
        ),
        "vi": (
            "Trợ lý '{agent}' hiện không thể trả lời: dịch vụ {servers} đang không khả dụng. "
            "Các trợ lý khác vẫn hoạt động; vui lòng thử lại sau ít phút."
        ),
    },
    "no_tools": {
        "en": "The '{agent}' assistant has no tools your organisation may use.",
        "vi": "Trợ lý '{agent}' không có công cụ nào mà tổ chức của bạn được phép sử dụng.",
    },
    "cannot_answer": {
        "en": "This assistant cannot answer: {reason}",
        "vi": "Trợ lý này không thể trả lời: {reason}",
    },
    "agent_gone": {
        "en": "The '{agent}' assistant no longer exists.",
        "vi": "Trợ lý '{agent}' không còn tồn tại.",
    },
    "approvals_unavailable": {
        "en": "This action needs approval, and approvals need the platform database.",
        "vi": "Thao tác này cần được phê duyệt, nhưng việc phê duyệt cần cơ sở dữ liệu của nền tảng.",
    },
    "pending_approval": {
        "en": "{tools} needs approval by an authorised person before it can run.",
        "vi": "Yêu cầu {tools} cần được người có thẩm quyền phê duyệt trước khi thực hiện.",
    },
    "repeated_call": {
        "en": (
            "I stopped because the same call to {tool} was about to be repeated with the same "
            "arguments; the results above are what I found."
        ),
        "vi": (
            "Tôi đã dừng vì lệnh gọi {tool} sắp bị lặp lại với cùng tham số; "
            "kết quả ở trên là những gì tôi tìm được."
        ),
    },
    "tool_budget": {
        "en": "I stopped: this turn reached its limit of {limit} tool calls.",
        "vi": "Tôi đã dừng: lượt này đã đạt giới hạn {limit} lệnh gọi công cụ.",
    },
    "step_limit": {
        "en": "I stopped after {limit} steps without a final answer (the step limit for this turn).",
        "vi": (
            "Tôi đã dừng sau {limit} bước mà chưa có câu trả lời cuối cùng (giới hạn số bước của lượt này)."
        ),
    },
    "model_failed": {
        "en": "The model could not answer: {reason}",
        "vi": "Mô hình không thể trả lời: {reason}",
    },
    "budget_exceeded": {
        "en": (
            "Your organisation has used its model budget for today (${limit} a day); assistants that "
            "use a language model can answer again after {resets} UTC."
        ),
        "vi": (
            "Tổ chức của bạn đã dùng hết ngân sách mô hình ngôn ngữ của hôm nay (${limit} mỗi ngày); "
            "các trợ lý dùng mô hình ngôn ngữ sẽ trả lời lại sau {resets} UTC."
        ),
    },
    "out_of_scope": {
        "en": "I can't help with that here. What I can do:\n{capabilities}\nWhat would you like to do?",
        "vi": "Tôi không hỗ trợ được yêu cầu này. Tôi có thể giúp:\n{capabilities}\nBạn cần gì?",
    },
    "other_agent": {
        "en": (
            "That looks like a question for the “{other}” assistant, not the “{agent}” assistant you "
            "chose. Ask again without choosing an assistant, or choose “{other}”."
        ),
        "vi": (
            "Câu hỏi này có vẻ dành cho trợ lý “{other}”, không phải trợ lý “{agent}” bạn đã chọn. "
            "Hãy hỏi lại mà không chọn trợ lý, hoặc chọn “{other}”."
        ),
    },
    "outside_agent": {
        "en": "The “{agent}” assistant can't help with that.",
        "vi": "Trợ lý “{agent}” không hỗ trợ được yêu cầu này.",
    },
    "outside_agent_example": {
        "en": "The “{agent}” assistant can't help with that. It answers questions such as “{example}”",
        "vi": (
            "Trợ lý “{agent}” không hỗ trợ được yêu cầu này. Trợ lý có thể trả lời những câu như “{example}”"
        ),
    },
    "greeting": {
        "en": "Hello! I can help with:\n{capabilities}\nWhat would you like to do?",
        "vi": "Xin chào! Tôi có thể giúp:\n{capabilities}\nBạn cần gì?",
    },
    "capabilities": {
        "en": "Here is what I can do:\n{capabilities}\nWhat would you like to do?",
        "vi": "Tôi có thể giúp:\n{capabilities}\nBạn cần gì?",
    },
    "thanks": {
        "en": "You're welcome! Is there anything else I can help with?",
        "vi": "Không có gì! Bạn cần tôi giúp thêm gì không?",
    },
    "farewell": {
        "en": "Goodbye! Ask again whenever you need me.",
        "vi": "Tạm biệt! Khi cần, bạn cứ hỏi lại nhé.",
    },
    "model_silent": {
        "en": "The model could not answer.",
        "vi": "Mô hình không thể trả lời.",
    },
}


def reply(language: Language, key: ReplyKey, **values: object) -> str:
    """The host's text for situation `key` in `language`, with `values` filled in."""
    return _REPLIES[key][language].format(**values)


def capabilities(agents: Sequence[tuple[str, str | None]], language: Language) -> str:
    """One line per agent, by its title, with one of its examples:
    `- Customer debt, e.g. “What does customer 0312345678 owe?”`."""
    example = "ví dụ" if language == "vi" else "e.g."
    return "\n".join(
        f"- {title}, {example} “{sample}”" if sample else f"- {title}" for title, sample in agents
    )


def joined(names: Sequence[str], language: Language) -> str:
    """`a, b and c` (`a, b và c`)."""
    return _listed(names, "và" if language == "vi" else "and")


def clarifying_question(
    titles: Sequence[str], reason: str, language: Language, unclear: Sequence[str] = ()
) -> str:
    """The question asked back instead of routing, naming the candidate agents by their quoted
    titles, in `language`; for a message with several requests, the parts that are not clear
    (`unclear`) are quoted too."""
    names = [f"“{title}”" for title in titles]
    if unclear and reason == "multiple_intents":
        quoted = ", ".join(f"“{part}”" for part in unclear)
        if language == "vi":
            return (
                f"Tôi có thể giúp về {_listed(names, 'và')}, nhưng chưa rõ ý {quoted}. "
                "Bạn hãy hỏi lại phần đó rõ hơn, hoặc hỏi từng việc một."
            )
        return (
            f"I can help with {_listed(names, 'and')}, but I'm not sure what you mean by {quoted}. "
            "Please say that part another way, or ask one thing at a time."
        )
    if language == "vi":
        questions = {
            "low_confidence": f"Tôi chưa chắc yêu cầu này thuộc về ai. Bạn muốn hỏi {_listed(names, 'hay')}?",
            "ambiguous": f"Yêu cầu này có thể dành cho {_listed(names, 'hoặc')}. Bạn muốn hỏi bên nào?",
            "multiple_intents": (
                f"Tin nhắn của bạn có nhiều yêu cầu: {_listed(names, 'và')}. "
                "Bạn muốn xử lý yêu cầu nào trước? Vui lòng hỏi từng việc một."
            ),
        }
        fallback = f"Bạn cần giúp gì? Tôi có thể hỗ trợ về: {_listed(names, 'hoặc')}."
    else:
        questions = {
            "low_confidence": f"I'm not sure who should handle that. Did you mean {_listed(names, 'or')}?",
            "ambiguous": f"That could be for {_listed(names, 'or')}. Which one did you mean?",
            "multiple_intents": (
                f"Your message asks for several things: {_listed(names, 'and')}. "
                "Which should I handle first? Please ask one at a time."
            ),
        }
        fallback = f"What would you like to do? I can help with {_listed(names, 'or')}."
    return questions.get(reason, fallback)


def _listed(names: Sequence[str], conjunction: str) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"
