"""The HTTP API against the real models and a copy of the demo index (httpx through FastAPI's TestClient)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from ragtune.serve import create_app

QUESTION = "When did Khan formally declare the Yuan dynasty?"


def events(response) -> list[tuple[str, dict]]:
    """(event, data) pairs of a Server-Sent Events body."""
    parsed, event = [], None
    for line in response.text.replace("\r\n", "\n").split("\n"):
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            parsed.append((event, json.loads(line[5:].strip())))
            event = None
    return parsed


def test_ask_answers_with_cited_sources(client):
    body = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert "1271" in body["answer"]
    assert body["sources"] and body["cited"] and all(1 <= n <= len(body["sources"]) for n in body["cited"])
    assert body["sources"][body["cited"][0] - 1]["cited"] is True
    assert body["standalone_question"] == QUESTION and body["timings"]["retrieve_s"] >= 0


def test_streamed_ask_sends_tokens_then_sources_the_same_answer(client):
    plain = client.post("/v1/ask", json={"question": QUESTION}).json()
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        response.read()
    got = events(response)
    tokens = [data["text"] for event, data in got if event == "token"]
    assert len(tokens) > 1 and got[-1][0] == "sources"
    assert "".join(tokens).strip() == got[-1][1]["answer"] == plain["answer"]
    assert got[-1][1]["cited"] == plain["cited"]


def test_retrieve_is_passages_without_generation(client):
    body = client.post("/v1/retrieve", json={"question": QUESTION, "top_k": 3}).json()  # fused order
    assert len(body["passages"]) == 3 and any("1271" in p["text"] for p in body["passages"])
    reranked = client.post("/v1/retrieve", json={"question": QUESTION, "top_k": 3, "rerank": True}).json()
    assert "1271" in reranked["passages"][0]["text"]  # as /v1/ask ranks them
    assert set(body["passages"][0]) == {"id", "title", "text", "score", "chunk", "cited"}


def test_concurrent_retrievals_are_batched_and_rank_as_one_alone(client, service):
    from concurrent.futures import ThreadPoolExecutor

    questions = [QUESTION, "生命数耗完即算为什么？", "Who developed 泡泡战士?", "Who was Genghis Khan?"] * 5
    alone = {q: [p["id"] for p in client.post("/v1/retrieve", json={"question": q}).json()["passages"]]
             for q in set(questions)}
    with ThreadPoolExecutor(20) as pool:
        together = list(pool.map(lambda q: client.post("/v1/retrieve", json={"question": q, "top_k": 3}).json(),
                                 questions))
    assert all([p["id"] for p in got["passages"]] == alone[q][:3] for q, got in zip(questions, together))


def test_a_follow_up_is_searched_as_a_standalone_question(client):
    history = [{"role": "user", "content": "泡泡战士是哪家公司开发的？"}, {"role": "assistant", "content": "Nexon [1]"}]
    body = client.post("/v1/retrieve", json={"question": "它在中国大陆由谁运营？", "history": history}).json()
    assert "泡泡战士" in body["standalone_question"]
    assert body["passages"][0]["title"] == "泡泡战士" and "盛大游戏运营" in body["passages"][0]["text"]


def test_concurrent_asks_are_batched_and_each_gets_its_own_answer(client, service, monkeypatch):
    facts = {QUESTION: "1271", "生命数耗完即算为什么？": "踢爆", "Who developed 泡泡战士?": "Nexon"}
    questions = list(facts)
    results: dict[str, str] = {}
    decoder = service.pipeline.generator.decoder()
    decoder.peak = 0
    # the three prompts reach the decoder together (each request's retrieval takes its own time, and a drafted
    # short answer can end before the next request's retrieval does): what is tested is that they then share steps
    together = threading.Barrier(len(questions), timeout=60)
    submit = decoder.submit

    def submit_together(*args, **kwargs):
        together.wait()
        return submit(*args, **kwargs)

    monkeypatch.setattr(decoder, "submit", submit_together)

    def ask(question):
        results[question] = client.post("/v1/ask", json={"question": question}).json()["answer"]

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # int8 kernels round a batch differently from a lone prompt, so near-ties may break another way: each answer
    # is checked for its own question's fact, not for byte equality
    assert all(facts[q] in results[q] for q in questions), results
    assert decoder.peak > 1  # they shared a batch


def test_upload_is_read_in_the_background_then_listed_and_deleted(client):
    text = b"The Zorblat bridge over the river Quenn was finished in 1911 by the engineer Maya Oduya."
    response = client.post("/v1/documents", files=[("files", ("zorblat notes.txt", text, "text/plain")),
                                                   ("files", ("broken.pdf", b"not a pdf", "application/pdf"))])
    assert response.status_code == 202
    job = response.json()
    for _ in range(600):
        job = client.get(f"/v1/jobs/{job['id']}").json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "done" and job["done"] == job["total"] == 2
    ok, broken = job["files"]
    assert ok == {"name": "zorblat notes.txt", "status": "ok", "error": None, "passages": 1}
    assert broken["status"] == "error" and "PDF" in broken["error"] and "/" not in broken["error"]
    top = client.post("/v1/retrieve", json={"question": "Who finished the Zorblat bridge?"}).json()["passages"][0]
    assert "Maya Oduya" in top["text"]
    listed = {d["name"]: d for d in client.get("/v1/documents").json()["documents"]}
    assert listed["zorblat_notes.txt"]["passages"] == 1
    removed = client.delete(f"/v1/documents/{listed['zorblat_notes.txt']['id']}").json()
    assert removed["passages_removed"] == 1
    assert "zorblat_notes.txt" not in {d["name"] for d in client.get("/v1/documents").json()["documents"]}
    assert client.delete(f"/v1/documents/{listed['zorblat_notes.txt']['id']}").status_code == 404


def test_a_snapshot_written_by_another_reader_is_picked_up(client, service, tmp_path):
    before = client.get("/v1/health").json()["passages"]
    note = tmp_path / "outside.txt"
    note.write_text("Quillon lighthouse stands on the cape of Aster and was lit in 1850.", encoding="utf-8")
    other = service.pipeline.__class__(service.index_dir, service.config, embedder=service.pipeline.embedder,
                                       progress=False)
    other.read([note])  # as `ragtune read` in another process would
    time.sleep(service.config.serve.reload_check_s + 0.1)
    assert client.get("/v1/health").json()["passages"] == before + 1
    other.delete([note])


@pytest.mark.parametrize("body, status", [
    ({"question": ""}, 422),
    ({"question": "x" * 5000}, 400),
    ({"question": "hi", "top_k": 0}, 422),
    ({"question": "hi", "top_k": 10_000}, 400),
    ({"question": "hi", "unknown": 1}, 422),
    ({"question": "hi", "history": [{"role": "robot", "content": "x"}]}, 422),
    ([1, 2], 422),
])
def test_bad_requests_get_one_line_json_errors(client, body, status):
    response = client.post("/v1/ask", json=body)
    assert response.status_code == status
    assert set(response.json()) == {"error"} and "\n" not in response.json()["error"]["message"]


def test_limits_on_bodies_and_uploads(client):
    assert client.post("/v1/ask", content=b"{" + b" " * 300_000 + b"}",
                       headers={"content-type": "application/json"}).status_code == 413
    unknown = client.post("/v1/documents", files=[("files", ("run.exe", b"MZ", "application/octet-stream"))])
    assert unknown.status_code == 415 and "run.exe" in unknown.json()["error"]["message"]
    assert client.get("/v1/jobs/nope").status_code == 404


def test_openai_models_health_metrics_and_page(client):
    assert client.get("/v1/models").json()["data"][0]["id"] == "ragtune"
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["auth"] is False and health["passages"] > 0
    metrics = client.get("/metrics").text
    assert "ragtune_requests_total" in metrics and "ragtune_generation_queue" in metrics
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert client.get("/static/app.js").status_code == 200
    assert "/v1/ask" in client.get("/openapi.json").json()["paths"]


def test_an_api_key_guards_every_route_but_health_and_the_page(service, tmp_path):
    from fastapi.testclient import TestClient

    key_file = tmp_path / "key"
    key_file.write_text("s3cret\n")
    config = service.config.model_copy(update={"serve": service.config.serve.model_copy(
        update={"api_key_file": key_file})})
    with TestClient(create_app(service.index_dir, config, service=service)) as guarded:
        assert guarded.get("/v1/health").json()["auth"] is True
        assert guarded.get("/").status_code == 200
        for method, path in (("post", "/v1/retrieve"), ("get", "/v1/documents"), ("get", "/metrics"),
                             ("get", "/v1/models")):
            response = getattr(guarded, method)(path, **({"json": {"question": "hi"}} if method == "post" else {}))
            assert response.status_code == 401, path
        wrong = guarded.get("/v1/documents", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert guarded.get("/v1/documents", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert guarded.get("/v1/documents", headers={"X-API-Key": "s3cret"}).status_code == 200
