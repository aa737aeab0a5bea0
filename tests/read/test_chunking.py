from ragtune.read.chunking import chunk_document, chunk_text, split_sentences
from ragtune.read.document import Document
from ragtune.text import count_units


def test_chinese_sentences_split_on_full_width_marks():
    assert split_sentences("今天下雨。你去吗？我不去！“好的。”然后；结束") == [
        "今天下雨。", "你去吗？", "我不去！", "“好的。”", "然后；", "结束",
    ]


def test_english_sentences_keep_abbreviations_together():
    assert split_sentences("Mr. Smith went home. J. K. Rowling wrote it! Done") == [
        "Mr. Smith went home.", "J. K. Rowling wrote it!", "Done",
    ]


def test_short_document_stays_one_chunk():
    doc = Document(id="d1", text="北京是中国的首都。It is large.", title="t")
    chunks = chunk_document(doc, size=100, overlap=10)
    assert [(c.doc_id, c.position, c.text) for c in chunks] == [("d1", 0, "北京是中国的首都。It is large.")]


def test_long_text_respects_budget_and_overlaps():
    sentences = [f"这是第{i}句话，内容各不相同。" for i in range(40)]
    chunks = chunk_text("".join(sentences), size=60, overlap=15)
    assert len(chunks) > 3
    assert all(count_units(c) <= 60 for c in chunks)
    # every sentence survives, and consecutive chunks share their boundary sentence
    joined = "".join(chunks)
    assert all(s in joined for s in sentences)
    assert chunks[0].split("。")[-2] + "。" in chunks[1]


def test_overlong_sentence_is_hard_split():
    chunks = chunk_text("字" * 250, size=100, overlap=0)
    assert [len(c) for c in chunks] == [100, 100, 50]


def test_english_chunks_join_sentences_with_spaces():
    text = " ".join(f"Sentence number {i} is here." for i in range(30))
    chunks = chunk_text(text, size=40, overlap=0)
    assert chunks[0].startswith("Sentence number 0 is here. Sentence number 1 is here.")
    assert all(count_units(c) <= 40 for c in chunks)
