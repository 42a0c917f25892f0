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

# Part 3.2, held-out accuracy of knowledge manipulation after fine-tuning a multi5+permute model.
# forward: Part 3.1's QA on multi5+permute; parity without a hint needs ~10K fine-tuning samples
# for 75%; with the month stated first it reaches ~94%; inverse search is ~0% under every setting
# except reversed pretraining data. Tasks without a headline number are not drawn.
MANIPULATION_ACCURACY = {
    "forward": 0.966,
    "parity": 0.75,
    "parity_cot": 0.94,
    "inverse1": 0.0,
    "inverse2": 0.0,
}

# Part 3.3, bits of knowledge per parameter of models at capacity, by exposures per person; int8
# keeps it, int4 falls to about 0.7 (of 2) bits per parameter.
CAPACITY_RATIO = {100: 1.0, 1000: 2.0}
INT4_KEPT = 0.7 / 2.0
