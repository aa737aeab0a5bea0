"""The web page in a real headless Chromium (Debian's `chromium`, driven by Playwright): ask, see the answer
stream in with a citation, ask a follow-up, upload a file. `make test` installs chromium when it is missing;
without it (no apt, no root) this test is skipped and says why."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make test installs Debian's)")


@pytest.fixture(scope="module")
def server_url(service):
    import uvicorn

    from ragtune.serve import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(service.index_dir, service.config, service=service),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(server_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(locale="en-US", viewport={"width": 390, "height": 844})  # a phone
        page.goto(server_url)
        yield page
        browser.close()


def test_ask_streams_an_answer_with_a_citation_then_a_follow_up(page, tmp_path):
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_contain_text("passages", timeout=30_000)
    question = page.locator("#question")
    question.fill("When did Khan formally declare the Yuan dynasty?")
    question.press("Enter")
    first = page.locator("article.turn").nth(0)
    expect(first.locator(".answer")).to_contain_text("1271", timeout=120_000)
    expect(page.locator("#send-btn")).to_be_enabled(timeout=120_000)
    cite = first.locator(".cite").first
    expect(cite).to_be_visible()
    cite.click()
    expect(first.locator(".passage:not([hidden])")).to_contain_text("Yuan", timeout=10_000)

    question.fill("Who was his grandfather?")
    question.press("Enter")
    second = page.locator("article.turn").nth(1)
    expect(second.locator(".answer")).not_to_be_empty(timeout=120_000)
    expect(page.locator("#send-btn")).to_be_enabled(timeout=120_000)
    expect(second.locator(".standalone")).to_be_visible()  # searched as the standalone form

    note = tmp_path / "lighthouse.txt"
    note.write_text("The Vellmar lighthouse on Cape Oriel was first lit in 1874.", encoding="utf-8")
    page.locator("#file-input").set_input_files(str(note))
    expect(page.locator(".job .job-file.ok")).to_contain_text("lighthouse.txt", timeout=120_000)
    expect(page.locator("#docs")).to_contain_text("lighthouse", timeout=30_000)


def test_graph_card_draws_an_entitys_neighbourhood(page, service):
    from playwright.sync_api import expect

    from ragtune.graph.triples import Triple
    from ragtune.index.backends import open_index
    from ragtune.index.graph.store import GraphPassage, GraphStore

    passage = next(p for p in open_index(service.index_dir).passages if "Richard Trevithick" in p.text)
    GraphStore.write(service.index_dir, [], [(GraphPassage.of(passage), [
        Triple("Richard Trevithick", "built", "railway steam locomotive"),
        Triple("railway steam locomotive", "hauled", "a train")], passage.text)], {})
    page.reload()
    chip = page.locator(".graph-chips button", has_text="railway steam locomotive")
    expect(chip).to_be_visible(timeout=30_000)  # no entity asked yet: the most connected ones
    page.locator("#graph-hops").select_option("2")
    page.locator("#graph-entity").fill("richard trevithick")
    page.locator("#graph-form button[type=submit]").click()
    expect(page.locator("svg.graph-svg .graph-node")).to_have_count(3, timeout=30_000)
    expect(page.locator("svg.graph-svg .graph-node.center")).to_contain_text("Richard Trevithick")
    expect(page.locator("svg.graph-svg line")).to_have_count(2)
    expect(page.locator("#graph-edges li").first).to_contain_text("Richard Trevithick")
    page.locator("svg.graph-svg .graph-node", has_text="a train").click()  # a node re-centres the drawing
    expect(page.locator("svg.graph-svg .graph-node.center")).to_contain_text("a train", timeout=30_000)
