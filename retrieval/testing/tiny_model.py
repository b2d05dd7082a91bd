"""A tiny, untrained SentenceTransformer built offline in a couple of seconds, for tests and benchmarks.

A 2-layer BERT (hidden 64, 2 heads) with a WordPiece tokenizer trained on the fixture text
(tiny_topics.fixture_sentences, plus the e5 prefixes ``query:`` and ``passage:``), wrapped as Transformer + mean
Pooling. Its tokenizer loads with ``AutoTokenizer`` too (the passages stage counts tokens with it). Random weights
score every text pair high (~0.85-0.97), but training on the tiny dataset (tiny_dataset.py) does learn.

Example::

    folder = build_tiny_model(tmp_path / "model")            # tmp_path/model and tmp_path/model_hf
    model = SentenceTransformer(str(folder), device="cpu")
    model.encode(["query: notizie bacedifo"]).shape            # (1, 64)
"""

from __future__ import annotations

from pathlib import Path

from retrieval.testing.tiny_topics import fixture_sentences

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_model(folder: Path, seed: int = 0, texts: list[str] | None = None, vocab_size: int = 600) -> Path:
    """Build and save a tiny SentenceTransformer (2-layer BERT, hidden 64, mean pooling); returns ``folder``.

    The plain Hugging Face model and tokenizer are saved beside it, in ``<folder>_hf``. The WordPiece vocabulary
    (``vocab_size`` pieces) is trained on ``texts`` (default: the fixture sentences). Benchmarks pass the corpus
    they encode and a larger vocabulary: trained on the fixture, the tokenizer cuts a real passage into ~600
    pieces, where e5-small's cuts it into ~250, and tokenizing then costs more than the model.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = Path(folder)
    hf_dir = folder.parent / (folder.name + "_hf")
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        (fixture_sentences(seed) if texts is None else list(texts)) + ["query: passage:"] * 5,
        trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    tok.decoder = decoders.WordPiece()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(hf_dir)
    fast.save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(64, "mean")], device="cpu")
    model.save(str(folder))
    return folder
