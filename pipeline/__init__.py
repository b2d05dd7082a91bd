"""Retrieval-data pipeline: raw web text in one language -> (query, positive, hard negatives) dataset."""

__version__ = "0.1.0"
