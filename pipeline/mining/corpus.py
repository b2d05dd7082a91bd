"""The mining corpus: unique passage texts (what the embedder and BM25 see) and the passages behind each text.

mine_hard_negatives works on texts and de-duplicates them, so candidates come back as texts. This index maps a
text back to its passage and to every document that holds it (boilerplate can repeat across documents).

Example:
    >>> corpus = Corpus.from_rows([{"passage_id": "p1", "doc_id": "d1", "text": "uno"},
    ...                            {"passage_id": "p2", "doc_id": "d2", "text": "uno"}])
    >>> corpus.texts, sorted(corpus.docs_of[0])
    (['uno'], ['d1', 'd2'])
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Corpus:
    texts: list[str] = field(default_factory=list)
    passage_ids: list[str] = field(default_factory=list)  # first passage holding each text
    doc_ids: list[str] = field(default_factory=list)  # that passage's document
    docs_of: list[frozenset[str]] = field(default_factory=list)  # every document holding the text
    index_of_passage: dict[str, int] = field(default_factory=dict)  # passage_id -> text index

    @classmethod
    def from_rows(cls, rows: list[dict]) -> Corpus:
        corpus, index_of_text, docs = cls(), {}, []
        for row in rows:
            text = row["text"]
            i = index_of_text.get(text)
            if i is None:
                i = index_of_text[text] = len(corpus.texts)
                corpus.texts.append(text)
                corpus.passage_ids.append(row["passage_id"])
                corpus.doc_ids.append(row["doc_id"])
                docs.append({row["doc_id"]})
            else:
                docs[i].add(row["doc_id"])
            corpus.index_of_passage[row["passage_id"]] = i
        corpus.docs_of = [frozenset(d) for d in docs]
        return corpus

    def __len__(self) -> int:
        return len(self.texts)
