#!/usr/bin/env bash
# Mark every committed dataset version with its git tag, dataset-<name>-v<version>, from history alone.
#
#   bash scripts/tag_dataset_versions.sh          # in any clone: tags what is missing, prints what it did
#
# Tags are the way to check out a version (`git checkout dataset-it_corpus-v0.5.0`, or load_dataset(...,
# revision=...) once pushed), but a clone or a mirror does not always carry them. The card's `version:` line is the
# source of truth: the first commit where a folder's card shows a version gets that version's tag.
set -euo pipefail
cd "$(dirname "$0")/.."
for card in data/datasets/*/README.md; do
  name=$(basename "$(dirname "$card")")
  # oldest first: the first commit that shows a version is the one that published it
  for commit in $(git log --reverse --format=%H -- "$card"); do
    version=$(git show "$commit:$card" 2>/dev/null | sed -n -e 's/^version: *\([0-9][0-9.]*\).*/\1/p' \
      -e 's/^- \*\*Version:\*\* `v\([0-9][0-9.]*\)`.*/\1/p' | head -1)  # front matter, or the card line (older cards)
    [ -n "$version" ] || continue
    tag="dataset-$name-v$version"
    if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
      continue
    fi
    git tag -a "$tag" -m "dataset $name v$version" "$commit"
    echo "tagged $tag at $(git log -1 --format='%h %s' "$commit" | cut -c1-100)"
  done
done
