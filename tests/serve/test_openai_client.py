"""The official `openai` client, unchanged, against the app (its httpx transport pointed at the ASGI app)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from openai import BadRequestError, OpenAI

QUESTION = "When did Khan formally declare the Yuan dynasty?"


@pytest.fixture(scope="module")
def openai_client(client: TestClient) -> OpenAI:
    # TestClient is an httpx.Client whose transport calls the app: the OpenAI client sends through it
    return OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client, max_retries=0)


def test_chat_completion_answers_and_carries_the_sources(openai_client, client):
    completion = openai_client.chat.completions.create(model="ragtune", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}])
    text = completion.choices[0].message.content
    assert "1271" in text and completion.choices[0].finish_reason == "stop"
    sources = completion.model_extra["sources"]
    assert sources and any(s["cited"] for s in sources)
    assert text == client.post("/v1/ask", json={"question": QUESTION}).json()["answer"]


def test_streamed_chat_completion_is_the_same_answer(openai_client):
    plain = openai_client.chat.completions.create(model="ragtune", messages=[{"role": "user", "content": QUESTION}])
    chunks = list(openai_client.chat.completions.create(
        model="ragtune", messages=[{"role": "user", "content": QUESTION}], stream=True))
    pieces = [c.choices[0].delta.content or "" for c in chunks]
    assert len(pieces) > 2 and "".join(pieces).strip() == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["sources"]


def test_models_list_and_errors_in_openai_shape(openai_client):
    assert [m.id for m in openai_client.models.list()] == ["ragtune"]
    with pytest.raises(BadRequestError, match="last message must be the user"):
        openai_client.chat.completions.create(model="ragtune", messages=[{"role": "assistant", "content": "hi"}])
