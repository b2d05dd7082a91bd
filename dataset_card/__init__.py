"""The dataset card: a Jinja2 template (templates/card.md.j2) filled from the run's statistics, with plots.

Example::

    from dataset_card import CardData, write_card
    write_card(config, language, run_dir, dataset_folder, files, counts, CardData.from_rows(split_rows, passages))
"""

from __future__ import annotations

from dataset_card.card import make_plots, render, write_card
from dataset_card.data import CardData
from dataset_card.metadata import card_metadata, front_matter, size_category

__all__ = ["CardData", "write_card", "make_plots", "render", "card_metadata", "front_matter", "size_category"]
