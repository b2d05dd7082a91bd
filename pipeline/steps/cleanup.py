"""Text clean-up before the quality filters (only what datatrove's formatters do not cover)."""

from __future__ import annotations

import re

from datatrove.pipeline.formatters.base import BaseFormatter

_TRAILING_MARKS = re.compile(r"[\s\u2014\u2013\-•·|]+$")


class TrailingMarksFormatter(BaseFormatter):
    """Remove dashes, bullets and bars left dangling at the end of a document.

    News text often ends in " —" where a byline was cut off; the line-punctuation rule of FineWebQualityFilter then
    sees a last line without terminal punctuation and drops an otherwise clean one-paragraph article.

    Example:
        >>> TrailingMarksFormatter().format("Il sindaco ha firmato l'ordinanza. —")
        "Il sindaco ha firmato l'ordinanza."
    """

    name = "✂️ Trailing marks"

    def format(self, text: str) -> str:
        return _TRAILING_MARKS.sub("", text)
