"""What a question must be before anything is retrieved or generated for it."""

from __future__ import annotations

from ragtune.errors import QuestionError


def check_question(question: str, max_chars: int) -> None:
    """An empty question has no answer, and an endless one would only be a slow search and an overflowing prompt."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty")
    if len(question) > max_chars:
        raise QuestionError(f"the question has {len(question)} characters; at most {max_chars} are accepted "
                            "(retrieval.max_question_chars)")
