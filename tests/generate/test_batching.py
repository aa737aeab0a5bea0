"""Dynamic batching: prompts submitted from several threads decode together, each stream its own answer."""

from __future__ import annotations

import threading

import pytest

from ragtune.config import Config
from ragtune.generate import create_generator

PROMPTS = [[{"role": "user", "content": q}] for q in
           ("What is the capital of France? Answer in one word.", "法国的首都是哪里？只回答城市名。",
            "What colour is the sky on a clear day? One word.")]


@pytest.fixture(scope="module", params=["torch", "openvino"])
def generator(request):
    return create_generator(Config(generator={"backend": request.param, "max_new_tokens": 12}))


def test_streams_submitted_together_share_batches_and_answer_each_prompt(generator):
    decoder = generator.decoder()
    assert decoder is generator.decoder()  # one per generator
    results: dict[int, list[str]] = {}
    decoder.peak = 0

    def consume(i, stream):
        results[i] = list(stream)

    streams = [decoder.submit(p) for p in PROMPTS]
    threads = [threading.Thread(target=consume, args=(i, s)) for i, s in enumerate(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = ["".join(results[i]).strip() for i in range(len(PROMPTS))]
    assert "Paris" in texts[0] and "巴黎" in texts[1] and "blue" in texts[2].lower()
    assert decoder.peak > 1 and all(len(results[i]) > 0 for i in results)
    assert all(s.tokens > 0 for s in streams)
    assert texts == generator.generate(PROMPTS) or generator.holds_torch_model is False


def test_a_cancelled_stream_ends_and_the_others_finish(generator):
    decoder = generator.decoder()
    long = [{"role": "user", "content": "Count from 1 to 200, separated by commas."}]
    leaving, staying = decoder.submit(long), decoder.submit(PROMPTS[0])
    first = next(iter(leaving))
    leaving.cancel()
    rest = list(leaving)
    assert first and leaving.tokens < generator.config.max_new_tokens + 2 and isinstance(rest, list)
    assert "Paris" in staying.result()
    assert "Paris" in decoder.submit(PROMPTS[0]).result()  # the loop serves the next one


def test_an_idle_decoder_thread_ends_and_lets_its_generator_go():
    import gc
    import time
    import weakref

    from ragtune import workers

    generator = create_generator(Config(generator={"backend": "openvino", "max_new_tokens": 4}))
    assert generator.generate(PROMPTS[:1])[0]
    gone = weakref.ref(generator)
    del generator
    time.sleep(workers.IDLE_S + 0.5)
    gc.collect()
    assert gone() is None  # a thread that lived on would hold the model (and its KV cache) for good
