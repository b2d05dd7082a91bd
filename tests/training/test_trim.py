"""Vocabulary trimming (training/trim.py) on a tiny XLM-R-style model with a Unigram tokenizer: kept tokens keep
their embedding rows, fixture text tokenizes and encodes as before, the model shrinks, bad input is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from retrieval.testing.tiny_topics import fixture_sentences
from training import trim


def build_tiny_unigram_model(folder: Path) -> Path:
    """A 2-layer XLM-R with a Unigram (sentencepiece-style) tokenizer trained on the fixture sentences."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    corpus = fixture_sentences(0) + fixture_sentences(1) + ["query: passage:"] * 3
    tok.train_from_iterator(corpus, trainers.UnigramTrainer(vocab_size=800, special_tokens=specials,
                                                            unk_token="<unk>"))
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   sep_token="</s>", cls_token="<s>", pad_token="<pad>", mask_token="<mask>",
                                   model_max_length=64)
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=64, max_position_embeddings=80,
                              pad_token_id=tok.token_to_id("<pad>"))
    hf = folder.parent / (folder.name + "_hf")
    XLMRobertaModel(config).save_pretrained(hf)
    fast.save_pretrained(hf)
    transformer = Transformer(str(hf), max_seq_length=64)
    SentenceTransformer(modules=[transformer, Pooling(32, "mean")], device="cpu").save(str(folder))
    return folder


@pytest.fixture(scope="module")
def unigram_model(tmp_path_factory) -> Path:
    return build_tiny_unigram_model(tmp_path_factory.mktemp("unigram") / "model")


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> tuple[Path, list[str], list[str]]:
    """Counting texts (a JSONL file) and, separately, texts in the same vocabulary and foreign ones."""
    sentences = fixture_sentences(0)
    folder = tmp_path_factory.mktemp("texts")
    path = folder / "corpus.jsonl"
    path.write_text("\n".join(json.dumps({"text": s}) for s in sentences[:40]), encoding="utf-8")
    return path, sentences[:40], fixture_sentences(1)  # the tokenizer knows these; the counting never saw them


def test_trimmed_model_keeps_rows_tokens_and_embeddings(unigram_model, texts, tmp_path):
    from sentence_transformers import SentenceTransformer

    corpus, seen, _ = texts
    assert trim.main(["--model", str(unigram_model), "--texts", str(corpus), "--output", str(tmp_path / "t"),
                      "--check", str(corpus)]) == 0
    info = json.loads((tmp_path / "t" / "trim_info.json").read_text())
    assert info["vocab_after"] < info["vocab_before"] and info["parameters_after"] < info["parameters_before"]
    assert info["changed_tokenization:corpus.jsonl"] == 0.0

    before = SentenceTransformer(str(unigram_model), device="cpu")
    after = SentenceTransformer(str(tmp_path / "t"), device="cpu")
    keep = trim.kept_ids(before.tokenizer, trim.count_tokens(before.tokenizer, seen), 1,
                         {c for t in seen for c in t if not c.isspace()})
    assert len(after.tokenizer) == len(keep)
    old_rows = before[0].auto_model.get_input_embeddings().weight[torch.tensor(keep)]
    assert torch.equal(after[0].auto_model.get_input_embeddings().weight, old_rows)
    new_id = {old: new for new, old in enumerate(keep)}
    for text in seen:  # same tokens, specials included
        old_ids = before.tokenizer(text)["input_ids"]
        assert after.tokenizer(text)["input_ids"] == [new_id[i] for i in old_ids]
    assert torch.allclose(torch.tensor(before.encode(seen[:8])), torch.tensor(after.encode(seen[:8])), atol=1e-5)


def test_text_the_counting_never_saw_is_reported_and_can_fail(unigram_model, texts, tmp_path, capsys):
    corpus, _, foreign = texts
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(json.dumps({"text": t}) for t in foreign), encoding="utf-8")
    code = trim.main(["--model", str(unigram_model), "--texts", str(corpus), "--output", str(tmp_path / "t"),
                      "--check", str(other), "--max-changed", "0.0"])
    assert code == 2
    err = capsys.readouterr().err
    assert "changes the tokenization of" in err and "--texts" in err


def test_no_text_is_a_clear_error(unigram_model, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert trim.main(["--model", str(unigram_model), "--texts", str(empty), "--output", str(tmp_path / "t")]) == 2
    assert "no text found" in capsys.readouterr().err
    assert trim.main(["--model", str(unigram_model), "--texts", str(tmp_path / "missing"),
                      "--output", str(tmp_path / "t")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "content"), [("bad.jsonl.gz", b"\x17k not gzip"), ("bad.parquet", b"garbage\n")])
def test_a_corrupt_text_file_is_named(unigram_model, tmp_path, capsys, name, content):
    (tmp_path / name).write_bytes(content)
    assert trim.main(["--model", str(unigram_model), "--texts", str(tmp_path / name),
                      "--output", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert f"cannot read {tmp_path / name}" in err and "Fix: re-create or re-download it" in err
    assert not (tmp_path / "t").exists()


def test_vocabulary_sizes_that_make_no_sense(unigram_model, texts, tmp_path, capsys):
    corpus, _, _ = texts
    argv = ["--model", str(unigram_model), "--texts", str(corpus), "--output", str(tmp_path / "t")]
    with pytest.raises(SystemExit) as exit_:
        trim.main([*argv, "--vocab-size", "0"])
    assert exit_.value.code == 2 and "--vocab-size: must be a whole number of at least 1" in capsys.readouterr().err
    assert trim.main([*argv, "--vocab-size", "100000"]) == 2
    assert "is not below the model's" in capsys.readouterr().err and not (tmp_path / "t").exists()


def test_an_existing_output_is_kept_unless_forced(unigram_model, tiny_model, texts, tmp_path, capsys):
    corpus, _, _ = texts
    out = tmp_path / "t"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    argv = ["--model", str(unigram_model), "--texts", str(corpus), "--output", str(out)]
    assert trim.main(argv) == 2
    assert "exists and is not empty. Fix: another --output, or --force" in capsys.readouterr().err
    assert trim.main(["--model", str(tiny_model), "--texts", str(corpus), "--output", str(out), "--force"]) == 2
    assert "supports Unigram" in capsys.readouterr().err  # a WordPiece model: refused, the old folder kept
    assert trim.main([*argv, "--check", str(tmp_path / "missing"), "--force"]) == 2
    assert "text source" in capsys.readouterr().err and [p.name for p in out.iterdir()] == ["keep.txt"]
    assert trim.main([*argv, "--force"]) == 0
    assert (out / "trim_info.json").is_file() and not (out / "keep.txt").exists()
