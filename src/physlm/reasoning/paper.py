"""Headline numbers from Part 2 (reasoning), drawn beside measurements, and the conditions each
finding needs (see shared PAPER_SPECS.md).

V-probing values were read from an image of Part 2.1's Figure 7(a) (a public blog's copy, the arXiv
version not stated): to the figure's precision, one decimal of a percent.
"""

from __future__ import annotations

# Part 2.1, Figure 7(a): V-probing accuracy on iGSM-med in distribution (op <= 15, problem before
# question), the pretrained GPT2-12-12 and a random-init model under the same probe; the majority
# class is the random model's on dep and nece_next.
VPROBE_ACCURACY = {
    "trained": {
        "nece": 0.998,
        "dep": 0.997,
        "known": 1.000,
        "value": 1.000,
        "can_next": 0.999,
        "nece_next": 0.999,
    },
    "random init": {
        "nece": 0.747,
        "dep": 0.846,
        "known": 0.872,
        "value": 0.719,
        "can_next": 0.658,
        "nece_next": 0.946,
    },
}
VPROBE_MAJORITY = {
    "nece": 0.747,
    "dep": 0.846,
    "known": 0.870,
    "value": 0.865,
    "can_next": 0.574,
    "nece_next": 0.949,
}


# Part 2.1: iGSM-med pq accuracy in distribution (op <= 15), GPT2-12-12 trained ~100K steps x 512 x 768
# tokens (about 39B tokens); V-probes read those models, and Part 2.2's mistake probes and retry data
# use the same (the papers' smallest for these findings).
MATH_ACCURACY_IN_DISTRIBUTION = 0.999
# Part 2.2: the can_next probe at "Define A as": 99% on random A, about 60% of the model's real first
# mistakes flagged; retry data (q = 0.5) at equal tokens lifts med op = 23 from 78% to 94-95%.
MISTAKE_RANDOM_ACCURACY = 0.99
MISTAKES_FLAGGED = 0.6
RETRY_ACCURACY = (0.78, 0.945)
MATH_CONDITIONS = {"n_layer": 12, "pretrain_steps": 100_000, "train_tokens": 39_000_000_000}
