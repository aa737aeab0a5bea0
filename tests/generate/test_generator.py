"""The real packaged generator (Qwen2.5 0.5B, converted from GGUF once) answering from the demo corpus."""

from ragtune.generate.packaged import PACKAGED_GENERATORS


def test_packaged_weights_are_found_through_importlib():
    parts = PACKAGED_GENERATORS["qwen2.5-0.5b-instruct"].part_paths()
    assert len(parts) == 6 and sum(p.stat().st_size for p in parts) == 491_400_064


def test_ask_streams_a_cited_answer_in_each_language(demo_pipeline):
    pieces = []
    answer = demo_pipeline.ask("海梅·雷耶斯哪家漫画公司的虚拟人物？", on_token=pieces.append)
    assert "DC" in answer.answer and len(pieces) > 1 and "".join(pieces).strip() == answer.answer
    assert answer.sources[0].id == "TRIAL_632" and answer.cited
    english = demo_pipeline.ask("When did Khan formally declare the Yuan dynasty?")
    assert "1271" in english.answer and english.cited
    assert english.sources[0].id == "squad_sample-8-0"


def test_batched_generation_matches_streaming_answers(demo_pipeline):
    questions = ["地球体育场能容纳多少名观众？", "Who was Kublai Khan's grandfather?"]
    batch = [demo_pipeline.messages(q, [s for s in demo_pipeline.retrieve(q) if s.relevant]) for q in questions]
    reported: dict[int, str] = {}
    answers = demo_pipeline.generator.generate(batch, on_batch=reported.update)
    assert "6,476" in answers[0] and "Genghis" in answers[1]
    assert reported == dict(enumerate(answers))  # every finished batch reaches the caller (the eval cache)


def test_unanswerable_question_without_relevant_passages_says_so(demo_pipeline):
    answer = demo_pipeline.ask("xyzzy qwertyuiop?")
    assert answer.answer == "I don't know" and answer.cited == []
