from __future__ import annotations

from datatrove.data import Document

from pipeline.steps.passage_splitter import PassageSplitter, passage_id

TEXT = (
    "Il Po è il fiume più lungo d'Italia. Nasce dal Monviso, in Piemonte. Attraversa la Pianura Padana.\n"
    "Sfocia nel mare Adriatico con un ampio delta. Il suo bacino ospita un terzo della popolazione. "
    "Molte città sorgono lungo le sue rive, come Torino, Piacenza e Cremona. La navigazione è limitata."
)


def test_passages_respect_token_bounds(tiny_model_dir):
    splitter = PassageSplitter(str(tiny_model_dir), "it", max_tokens=40, min_tokens=5)
    pieces = splitter.split(TEXT * 3)
    assert len(pieces) > 1
    for text, n in pieces:
        assert n <= 40
        assert n == splitter.count_tokens([text])[0]


def test_sentences_are_not_cut_when_they_fit(tiny_model_dir):
    splitter = PassageSplitter(str(tiny_model_dir), "it", max_tokens=60, min_tokens=5)
    for text, _ in splitter.split(TEXT):
        assert text.rstrip().endswith((".", "!", "?")), text


def test_over_long_sentence_is_cut_at_words(tiny_model_dir):
    long_sentence = " ".join(["parola"] * 300) + "."
    splitter = PassageSplitter(str(tiny_model_dir), "it", max_tokens=32, min_tokens=4)
    pieces = splitter.split(long_sentence)
    assert len(pieces) > 3 and all(n <= 32 for _, n in pieces)
    assert " ".join(t for t, _ in pieces).split() == long_sentence.split()


def test_short_tail_is_merged_or_dropped(tiny_model_dir):
    splitter = PassageSplitter(str(tiny_model_dir), "it", max_tokens=64, min_tokens=20)
    docs = list(splitter.run([Document(text="Breve.", id="d1", metadata={"url": "u"})]))
    assert docs == []
    assert splitter.stats["dropped_too_short"].total == 1


def test_run_yields_ids_positions_and_metadata(tiny_model_dir):
    splitter = PassageSplitter(str(tiny_model_dir), "it", max_tokens=40, min_tokens=5)
    docs = list(splitter.run([Document(text=TEXT * 2, id="doc-7", metadata={"url": "https://x"})]))
    assert [d.metadata["position"] for d in docs] == list(range(len(docs)))
    assert all(d.metadata["doc_id"] == "doc-7" and d.metadata["url"] == "https://x" for d in docs)
    assert [d.id for d in docs] == [passage_id("doc-7", i) for i in range(len(docs))]
    assert len({d.id for d in docs}) == len(docs)


def test_passage_id_is_stable():
    assert passage_id("a", 0) == passage_id("a", 0) != passage_id("a", 1)


def test_group_key_makes_records_of_one_source_one_document(tiny_model_dir):
    from datatrove.data import Document

    splitter = PassageSplitter(str(tiny_model_dir), "it", max_tokens=40, min_tokens=2, group_key="title")
    docs = [Document(text="Il fiume Adige attraversa Verona.", id="p1", metadata={"title": "Adige"}),
            Document(text="L'Adige sfocia nel mare Adriatico.", id="p2", metadata={"title": "Adige"}),
            Document(text="La cattedrale di Palermo è normanna.", id="p3", metadata={})]
    out = list(splitter.run(iter(docs)))
    assert [p.metadata["doc_id"] for p in out] == ["Adige", "Adige", "p3"]
    assert len({p.id for p in out}) == 3  # passage ids stay unique: they come from the record ids
    assert splitter.stats["group_key_missing"].total == 1
