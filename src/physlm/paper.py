"""Headline numbers from the papers, drawn beside measurements (see shared PAPER_SPECS.md)."""

from __future__ import annotations

# Part 3.1, QA exact-match accuracy on the held-out half of the people, mean over attributes.
# Keys: (regime, bioS variant). single_permute is the paper's "single + permute1".
QA_ACCURACY = {
    ("mixed", "single"): 0.866,
    ("finetune", "single"): 0.097,
    ("finetune", "single_permute"): 0.044,
    ("finetune", "multi5"): 0.41,
    ("finetune", "multi5_permute"): 0.966,
}
