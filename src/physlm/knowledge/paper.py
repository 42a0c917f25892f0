"""Headline numbers from Part 3 (knowledge), drawn beside measurements, and the conditions each
finding needs (see shared PAPER_SPECS.md).

Values read off the papers' figures (P- and Q-probing) were read from images of those figures (a
public blog's copies, the arXiv version not stated; the Q-probing values match a third party's
transcription of 2309.14316v3, Figure 7): to the figures' precision, one decimal of a percent.
"""

from __future__ import annotations

from physlm.knowledge.templates import ATTRIBUTES

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

# Part 3.1, Figure 5: P-probing first-token accuracy at the special token before the first attribute
# (the paper's position 0, this pipeline's position 1), per attribute in ATTRIBUTES order.
P_PROBING_FIRST = {
    "single": dict(zip(ATTRIBUTES, (1.000, 0.059, 0.380, 0.047, 0.015, 0.154), strict=True)),
    "multi5_permute": dict(zip(ATTRIBUTES, (1.000, 1.000, 1.000, 1.000, 0.999, 0.998), strict=True)),
}
# Part 3.1, Figure 7: Q-probing first-token accuracy from the name alone, per attribute, and the
# same models' QA fine-tuning accuracy (mean over attributes).
Q_PROBING_FIRST = {
    "single": dict(zip(ATTRIBUTES, (0.634, 0.019, 0.375, 0.031, 0.002, 0.131), strict=True)),
    "multi5_permute": dict(zip(ATTRIBUTES, (1.000, 1.000, 0.999, 1.000, 0.999, 0.998), strict=True)),
}
Q_PROBING_QA = {"single": 0.097, "multi5_permute": 0.966}

# The scale at which each paper reports its finding. A run below any of these can support a finding
# (the effect shows anyway) but cannot refute it. Keys are columns of the metrics tables (written by
# train.run_scale, probing and the capacity step); a run's value must be at least the paper's.
# Part 3.1: bioS N = 100K, half of them QA-train; GPT2-12-12; 80K pretraining steps (batch 96 x 512
# tokens, ~540 exposures per person); LoRA fine-tuning 50K steps.
QA_CONDITIONS = {
    "people": 100_000,
    "qa_train_people": 50_000,
    "exposures": 540,
    "pretrain_steps": 80_000,
    "finetune_steps": 50_000,
    "n_layer": 12,
}
# Mixed training (Part 3.1): the same people and model, QA of the train half mixed into the 80K steps.
MIXED_CONDITIONS = {k: QA_CONDITIONS[k] for k in ("people", "qa_train_people", "pretrain_steps", "n_layer")}
# Part 3.2: the Part 3.1 model (N = 100K) fine-tuned for 50K steps on 2.5K-50K people per task.
MANIPULATION_CONDITIONS = {
    "people": 100_000,
    "qa_train_people": 2_500,
    "pretrain_steps": 80_000,
    "finetune_steps": 50_000,
    "n_layer": 12,
}
# P-probing (Part 3.1, Appendix E): the N = 100K models, ~250 training examples per class, 30K steps.
PROBING_CONDITIONS = {
    "people": 100_000,
    "n_layer": 12,
    "train_per_class": 250,
    "probe_steps": 30_000,
}
# Part 3.3: at 100 exposures only N >= 50K (10K at 1000 exposures), at least 50K optimizer steps;
# 1-layer models are left out of the law (not a condition: they are not counted in the peak).
CAPACITY_CONDITIONS = {
    100: {"people": 50_000, "pretrain_steps": 50_000},
    1000: {"people": 10_000, "pretrain_steps": 50_000},
}
