"""Label masking on the real generator's tokenizer: only the answer and its end-of-turn token are learned."""

from __future__ import annotations

from ragtune.train.examples import TrainExample
from ragtune.train.tokenize import IGNORE, encode_example, stop_token_ids

LONG = " ".join(f"Filler sentence number {i} says nothing useful about the question." for i in range(60))
EXAMPLE = TrainExample(
    id="q", question="Who was Kublai Khan's grandfather?", answers=["Genghis Khan"],
    passages=[("Yuan", "Kublai was a grandson of Genghis Khan."), ("Other", LONG), ("More", LONG)],
    target="Genghis Khan [1]", gold_position=1,
)


def _stops(tokenizer):
    return stop_token_ids(tokenizer, tokenizer.convert_tokens_to_ids("<|im_end|>"))


def test_only_answer_tokens_have_labels(tokenizer):
    encoded = encode_example(tokenizer, EXAMPLE, 4096, _stops(tokenizer))
    labelled = [i for i, label in enumerate(encoded.labels) if label != IGNORE]
    first = labelled[0]
    assert labelled == list(range(first, len(encoded)))  # one contiguous span, at the end
    assert [encoded.input_ids[i] for i in labelled] == encoded.labels[first:]
    assert tokenizer.decode(encoded.labels[first:]) == "Genghis Khan [1]<|im_end|>"
    # the prompt part is exactly what ask feeds the generator
    prompt = tokenizer.apply_chat_template(EXAMPLE.messages(), tokenize=False, add_generation_prompt=True)
    assert encoded.input_ids[:first] == tokenizer(prompt, add_special_tokens=False)["input_ids"]


def test_truncation_shortens_passages_and_keeps_the_answer(tokenizer):
    full = encode_example(tokenizer, EXAMPLE, 4096, _stops(tokenizer))
    short = encode_example(tokenizer, EXAMPLE, 400, _stops(tokenizer))
    assert len(full) > 400 >= len(short)
    text = tokenizer.decode(short.input_ids)
    assert text.startswith("<|im_start|>system") and "Question: Who was Kublai Khan's grandfather?" in text
    assert "…" in text  # passages were cut, the way ask cuts long passages
    assert tokenizer.decode([t for t in short.labels if t != IGNORE]) == "Genghis Khan [1]<|im_end|>"
    tiny = encode_example(tokenizer, EXAMPLE, 40, _stops(tokenizer))  # last resort: the prompt's start goes
    assert len(tiny) == 40 and tokenizer.decode([t for t in tiny.labels if t != IGNORE]).startswith("Genghis Khan")
