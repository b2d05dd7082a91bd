"""Preparing and publishing the dataset: near-duplicate groups and splits, BEIR folders, the Hub folder, the push."""
