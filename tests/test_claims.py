import pandas as pd
import pytest

from physlm.engine.verdict import write_claims
from physlm.knowledge.finding1_capacity import CAPACITY_CONDITIONS, CapacityThresholds, capacity_claims
from physlm.knowledge.finding2_pretraining import QA_CONDITIONS, KnowledgeThresholds, knowledge_claims
from physlm.knowledge.finding2_probing import PROBING_CONDITIONS, ProbingThresholds, probing_claim
from physlm.knowledge.finding5_one_way import (
    MANIPULATION_CONDITIONS,
    ManipulationThresholds,
    manipulation_claims,
)
from physlm.reasoning.finding3_mistakes import MistakeThresholds, mistake_claims
from physlm.reasoning.finding4_planning import MATH_CONDITIONS, MathThresholds, planning_claim

THRESHOLDS = KnowledgeThresholds(min_gap=0.2, min_fit=0.5)
# A run at the scale of every paper's conditions (so that it can refute), and one far below it.
ALL_CONDITIONS = (
    QA_CONDITIONS,
    MANIPULATION_CONDITIONS,
    PROBING_CONDITIONS,
    CAPACITY_CONDITIONS[100],
    MATH_CONDITIONS,
)
# Each condition key at the largest value any paper asks for: this run meets every condition.
AT_SCALE = {k: max(c.get(k, 0) for c in ALL_CONDITIONS) for c in ALL_CONDITIONS for k in c}
SMALL = {**AT_SCALE, "people": 1000, "qa_train_people": 500}


def knowledge_claim(table: pd.DataFrame, thresholds: KnowledgeThresholds) -> dict:
    """The augmentation claim (F2a); the mixed-training claim is tested on its own below."""
    augmentation, _ = knowledge_claims(table, thresholds)
    return augmentation


def metrics(test: dict, train: float = 0.95, seeds=(0,), scale: dict = AT_SCALE) -> pd.DataFrame:
    rows = []
    for (regime, variant), acc in test.items():
        for seed in seeds:
            for attribute in ("major", "employer"):
                for split, value in (("test", acc), ("train", train)):
                    rows.append(
                        dict(
                            regime=regime,
                            variant=variant,
                            seed=seed,
                            split=split,
                            attribute=attribute,
                            accuracy=value,
                            bio_recall=0.9,
                            **scale,
                        )
                    )
    return pd.DataFrame(rows)


def settings(mixed, single, augmented):
    return {
        ("mixed", "single"): mixed,
        ("finetune", "single"): single,
        ("finetune", "multi5_permute"): augmented,
    }


def test_augmentation_and_mixed_training_are_two_claims_with_their_own_verdicts():
    augmentation, mixed = knowledge_claims(metrics(settings(0.3, 0.1, 0.9)), THRESHOLDS)
    assert augmentation["finding"].startswith("F2a augmentation")
    assert augmentation["verdict"] == "supported" and augmentation["measured_value"] == pytest.approx(0.8)
    assert augmentation["paper_value"] == pytest.approx(0.966 - 0.097)
    assert "held-out bio recall 0.900" in augmentation["details"]
    assert mixed["finding"].startswith("F2b mixed training")
    assert mixed["verdict"] == "refuted" and mixed["measured_value"] == pytest.approx(0.2 - 0.0)
    assert mixed["paper_value"] == pytest.approx(0.866 - 0.097)


def test_mixed_training_on_augmented_data_is_a_claim_beside_f2b_not_in_its_place():
    table = metrics(
        {**settings(0.1, 0.05, 0.9), ("mixed", "multi5_permute"): 0.5, ("mixed", "single_fullname"): 0.6}
    )
    _, mixed, augmented_mixed = knowledge_claims(table, THRESHOLDS)
    assert mixed["finding"].startswith("F2b mixed training:") and mixed["measured_value"] == pytest.approx(
        0.05
    )
    assert augmented_mixed["finding"].startswith("F2b mixed training on multi5_permute")
    assert (
        augmented_mixed["measured_value"] == pytest.approx(0.45) and augmented_mixed["verdict"] == "supported"
    )
    assert augmented_mixed["paper_value"] == pytest.approx(0.955 - 0.097)
    # single_fullname has no paper number here: no claim for it


def test_refuted_when_the_gap_is_too_small_and_the_models_fit():
    claim = knowledge_claim(metrics(settings(0.8, 0.7, 0.8)), THRESHOLDS)
    assert claim["verdict"] == "refuted" and claim["measured_value"] == pytest.approx(0.1)


def test_below_the_papers_conditions_a_run_can_support_but_not_refute():
    small = metrics(settings(0.8, 0.7, 0.8), scale=SMALL)
    claim = knowledge_claim(small, THRESHOLDS)
    assert claim["verdict"] == (
        "inconclusive: below the paper's conditions (people 1,000 < 100,000, qa_train_people 500 < 50,000)"
    )
    assert "people 1,000" in claim["scale"] and "people 100,000" in claim["conditions"]
    assert (
        knowledge_claim(metrics(settings(0.8, 0.1, 0.9), scale=SMALL), THRESHOLDS)["verdict"] == "supported"
    )


def test_a_claim_is_as_far_from_the_papers_conditions_as_its_smallest_run():
    """One compared setting at scale and one below it: the claim is below (it compares both), so a
    failed gap is inconclusive, not refuted."""
    at_scale = metrics({("mixed", "single"): 0.7, ("finetune", "single"): 0.7}, scale=AT_SCALE)
    small = metrics({("finetune", "multi5_permute"): 0.8}, scale=SMALL)
    claim = knowledge_claim(pd.concat([at_scale, small]), THRESHOLDS)
    assert claim["verdict"].startswith("inconclusive: below the paper's conditions (people 1,000")
    assert "people 1,000" in claim["scale"]


def test_inconclusive_when_a_model_did_not_learn_its_training_questions():
    claim = knowledge_claim(metrics(settings(0.1, 0.1, 0.1), train=0.2), THRESHOLDS)
    assert claim["verdict"] == "inconclusive: a setting did not learn its own QA-train questions"
    assert "below min_fit" in claim["details"]


def test_spread_over_seeds_and_markdown(tmp_path):
    table = metrics(settings(0.8, 0.1, 0.9), seeds=(0, 1))
    augmented = (table.seed == 1) & (table.variant == "multi5_permute") & (table.split == "test")
    table.loc[augmented, "accuracy"] = 0.6
    claim = knowledge_claim(table, THRESHOLDS)
    assert claim["measured_value"] == pytest.approx(0.65)
    assert claim["spread"] == pytest.approx(pd.Series([0.8, 0.5]).std())
    rows = tmp_path / "rows.parquet"
    pd.DataFrame([claim]).to_parquet(rows)
    write_claims(
        rows=[rows],
        markdown=tmp_path / "claims.md",
        parquet=tmp_path / "claims.parquet",
        html=tmp_path / "claims.html",
    )
    assert "**supported**" in (tmp_path / "claims.md").read_text()
    page = (tmp_path / "claims.html").read_text()
    assert "<table" in page and "supported" in page and claim["finding"] in page
    assert " >measured<" in page and " >paper's conditions<" in page  # a reader's words for the columns
    assert "measured_value" not in page and "paper_value" not in page
    assert pd.read_parquet(tmp_path / "claims.parquet")["verdict"].tolist() == ["supported"]


def test_missing_setting_is_an_error():
    with pytest.raises(ValueError, match="no test QA metrics for mixed training on bioS single"):
        knowledge_claims(metrics(settings(0.1, 0.1, 0.1)).query("regime != 'mixed'"), THRESHOLDS)


MANIPULATION = ManipulationThresholds(min_forward=0.5, max_inverse_margin=0.05, min_control=0.5)


def task_metrics(accuracy: dict, chance: float = 0.01, train: float = 1.0, scale=AT_SCALE) -> pd.DataFrame:
    rows = [
        dict(
            variant=v,
            task=t,
            seed=0,
            split=split,
            accuracy=a if split == "test" else train,
            chance=chance,
            n=10,
            **scale,
        )
        for (v, t), a in accuracy.items()
        for split in ("train", "test")
    ]
    return pd.DataFrame(rows)


def test_one_way_access_supported_refuted_and_inconclusive():
    def verdict(forward, inverse):
        runs = {("multi5_permute", "forward"): forward, ("multi5_permute", "inverse2"): inverse}
        (claim,) = manipulation_claims(task_metrics(runs), MANIPULATION)
        return claim["verdict"], claim["measured_value"]

    assert verdict(0.9, 0.03) == ("supported", pytest.approx(0.02))
    assert verdict(0.9, 0.5) == ("refuted", pytest.approx(0.49))
    assert verdict(0.2, 0.0)[0].startswith("inconclusive: forward QA fails")
    runs = {("multi5_permute", "forward"): 0.9, ("multi5_permute", "inverse2"): 0.5}
    (small,) = manipulation_claims(task_metrics(runs, scale=SMALL), MANIPULATION)
    assert small["verdict"].startswith("inconclusive: below the paper's conditions (people 1,000 < 100,000")


def test_the_best_inverse_task_counts_and_the_reversed_control_gets_its_own_row():
    runs = {
        ("multi5_permute", "forward"): 0.9,
        ("multi5_permute", "inverse1"): 0.0,
        ("multi5_permute", "inverse2"): 0.3,
        ("multi5_permute_reverse", "inverse2"): 0.8,
        ("single", "forward"): 0.1,  # no inverse task: no row of its own
    }
    main, control = manipulation_claims(task_metrics(runs), MANIPULATION)
    assert main["verdict"] == "refuted" and main["measured_value"] == pytest.approx(0.29)
    assert "inverse1: held-out 0.000" in main["details"] and "reverse" not in main["details"]
    assert control["finding"].startswith("F5 control") and control["verdict"] == "supported"
    assert control["threshold"] == ">= 0.500"


def probes(
    first_aug: float, first_single: float, first_random: float, own: float = 0.9, scale=AT_SCALE
) -> pd.DataFrame:
    rows = []
    for variant, model, first in (
        ("multi5_permute", "pretrained", first_aug),
        ("single", "pretrained", first_single),
        ("multi5_permute", "random init", first_random),
        ("single", "random init", first_random),
    ):
        for position in (1, 2):
            rows.append(
                dict(
                    probe="P",
                    variant=variant,
                    model=model,
                    seed=0,
                    position=position,
                    attribute="major",
                    accuracy=first,
                    later_accuracy=first if position == 1 else float("nan"),
                    next_accuracy=own,
                    majority=0.1,
                    **scale,
                )
            )
        rows.append(
            dict(
                probe="Q",
                variant=variant,
                model=model,
                seed=0,
                position=0,
                attribute="major",
                accuracy=0.5,
                majority=0.1,
            )
        )
    return pd.DataFrame(rows)


def test_probing_claim_needs_augmented_above_single_and_random_init():
    thresholds = ProbingThresholds(min_gap=0.2, min_fit=0.5)
    claim = probing_claim(probes(0.9, 0.1, 0.05), thresholds)
    assert claim["verdict"] == "supported" and claim["measured_value"] == pytest.approx(0.8)
    assert "random-init 0.050" in claim["details"] and "Q-probe" in claim["details"]
    # the paper's position-0 accuracy on the five later attributes: 0.9994 (multi5_permute), 0.131 (single)
    assert claim["paper_value"] == pytest.approx(0.9994 - 0.131)
    # Equal to its random-init model: the probe, not the model, finds the attribute.
    assert probing_claim(probes(0.9, 0.1, 0.85), thresholds)["verdict"] == "refuted"
    assert probing_claim(probes(0.9, 0.1, 0.05, own=0.2), thresholds)["verdict"].startswith(
        "inconclusive: the probe cannot"
    )
    few = {**AT_SCALE, "train_per_class": 3}
    assert probing_claim(probes(0.9, 0.1, 0.85, scale=few), thresholds)["verdict"] == (
        "inconclusive: below the paper's conditions (train_per_class 3 < 250)"
    )


CAPACITY = CapacityThresholds(min_fraction=0.5, max_ratio=2.3, min_int8_kept=0.9, max_int4_kept=0.5)


def capacity_metrics(
    ratios: dict, kept: dict, exposures: int = 100, data: str = "bioS", scale=AT_SCALE, n_layer: int = 2
) -> pd.DataFrame:
    rows = []
    for size, ratio in ratios.items():
        for scheme in ("none", "int8", "int4"):
            bits = 1000 * ratio * kept.get(scheme, 1.0)
            rows.append(
                dict(
                    data=data,
                    n=100,
                    exposures=exposures,
                    size=size,
                    seed=0,
                    quantization=scheme,
                    parameters=1000,
                    bits=bits,
                    bits_per_parameter=bits / 1000,
                    people=scale["people"],
                    pretrain_steps=scale["pretrain_steps"],
                    n_layer=n_layer,
                )
            )
    return pd.DataFrame(rows)


def test_capacity_claims_peak_ratio_and_quantization():
    peak, int8, int4 = capacity_claims(
        capacity_metrics({"s": 0.3, "l": 0.8}, {"int8": 0.95, "int4": 0.3}), CAPACITY
    )
    assert peak["verdict"] == "supported" and peak["measured_value"] == pytest.approx(0.8)
    assert "peak at size l" in peak["details"]
    assert int8["verdict"] == "supported" and int8["measured_value"] == pytest.approx(0.95)
    assert int4["verdict"] == "supported" and int4["measured_value"] == pytest.approx(0.3)
    low, int8, int4 = capacity_claims(capacity_metrics({"s": 0.1}, {"int8": 0.5, "int4": 0.9}), CAPACITY)
    assert (low["verdict"], int8["verdict"], int4["verdict"]) == ("refuted", "refuted", "refuted")
    unknown, *_ = capacity_claims(capacity_metrics({"s": 1.0}, {}, exposures=7), CAPACITY)
    assert unknown["verdict"] == "inconclusive: the paper gives no ratio at these exposures"
    _, int8, _ = capacity_claims(capacity_metrics({"s": 0.0}, {}), CAPACITY)
    assert int8["verdict"] == "inconclusive: no model learned anything to lose"
    small, _, int4 = capacity_claims(
        capacity_metrics({"s": 0.1}, {"int4": 0.9}, scale={"people": 400, "pretrain_steps": 5000}), CAPACITY
    )
    below = "inconclusive: below the paper's conditions (people 400 < 50,000, pretrain_steps 5,000 < 50,000)"
    assert small["verdict"] == below and int4["verdict"] == below


def test_one_layer_models_are_left_out_of_the_capacity_law():
    table = pd.concat(
        [capacity_metrics({"one": 1.0}, {}, n_layer=1), capacity_metrics({"two": 0.1}, {}, n_layer=2)]
    )
    peak, *_ = capacity_claims(table, CAPACITY)
    assert peak["measured_value"] == pytest.approx(0.1) and peak["verdict"] == "refuted"
    shallow, int8, _ = capacity_claims(capacity_metrics({"one": 1.0}, {"int8": 1.0}, n_layer=1), CAPACITY)
    assert (
        shallow["verdict"] == "inconclusive: no model with 2 or more layers"
        and "1-layer" in shallow["details"]
    )
    assert int8["verdict"] == "supported"  # quantization still compares every model with itself


def test_capacity_has_a_verdict_per_dataset_and_pools_quantization_over_them():
    both = pd.concat(
        [
            capacity_metrics({"s": 0.8}, {"int8": 1.0, "int4": 0.2}, data="bioS"),
            capacity_metrics({"s": 0.1}, {"int8": 0.8, "int4": 0.6}, data="bioD"),
        ]
    )
    bios, biod, int8, int4 = capacity_claims(both, CAPACITY)
    assert "on bioS at 100" in bios["hypothesis"] and bios["verdict"] == "supported"
    assert "on bioD at 100" in biod["hypothesis"] and biod["verdict"] == "refuted"
    assert int8["measured_value"] == pytest.approx(0.9) and int4["measured_value"] == pytest.approx(0.4)


def test_details_show_bio_recall_before_and_after_fine_tuning():
    table = metrics({**settings(0.8, 0.1, 0.9), ("pretrain", "multi5_permute"): 0.0})
    table.loc[table.regime == "pretrain", "bio_recall"] = 0.95
    claim = knowledge_claim(table, THRESHOLDS)
    assert "finetune/multi5_permute: held-out QA 0.900" in claim["details"]
    assert "held-out bio recall 0.950 after pretraining -> 0.900" in claim["details"]


def test_a_table_without_an_identity_column_fails_naming_it():
    table = metrics(settings(0.8, 0.1, 0.9)).drop(columns="regime")
    with pytest.raises(ValueError, match="the knowledge metrics lacks the column\\(s\\) regime"):
        knowledge_claims(table, THRESHOLDS)


MATH = MathThresholds(min_gap=0.1, min_accuracy=0.5)


def vprobes(
    nece: float, random: float = 0.6, majority: float = 0.6, seeds=(0, 1), scale=AT_SCALE
) -> pd.DataFrame:
    rows = [
        {"seed": s, "task": task, "model": model, "accuracy": value, "majority": majority, **scale}
        for s in seeds
        for task in ("nece", "dep")
        for model, value in (("trained", nece), ("random init", random))
    ]
    return pd.DataFrame(rows)


def math_accuracy(in_distribution: float, seeds=(0, 1), retry: float | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "seed": s,
                "data": data,
                "op": op,
                "in_distribution": op <= 3,
                "accuracy": value if op <= 3 else 0.1,
                **AT_SCALE,
            }
            for s in seeds
            for data, value in (("clean", in_distribution), ("retry0.5", retry or in_distribution))
            for op in (1, 2, 3, 4)
        ]
    )


def test_planning_claim_beats_random_init_and_majority_when_the_model_solves():
    claim = planning_claim(vprobes(0.9), math_accuracy(0.9), MATH)
    assert claim["verdict"] == "supported" and claim["measured_value"] == pytest.approx(0.3)
    assert "nece 0.900 / 0.600 / 0.600" in claim["details"]
    assert claim["paper_value"] == pytest.approx(0.998 - 0.747)  # Part 2.1, Figure 7(a), op <= 15
    # the majority class is the bar to clear when it is above the random-init model
    assert planning_claim(vprobes(0.9, majority=0.85), math_accuracy(0.9), MATH)["verdict"] == "refuted"


def test_planning_claim_needs_a_model_that_solves_and_the_papers_scale_to_refute():
    unsolved = planning_claim(vprobes(0.9), math_accuracy(0.2), MATH)
    assert unsolved["verdict"].startswith("inconclusive: the model solves 0.200 < 0.5")
    small = planning_claim(vprobes(0.62, scale={**AT_SCALE, "n_layer": 4}), math_accuracy(0.9), MATH)
    assert small["verdict"].startswith("inconclusive: below the paper's conditions (n_layer 4 < 12")
    with pytest.raises(ValueError, match="no nece task"):
        planning_claim(vprobes(0.9).query("task != 'nece'"), math_accuracy(0.9), MATH)


MISTAKES = MistakeThresholds(min_auroc_gap=0.1, min_retry_gain=0.05, min_decoding_gain=0.02)


def mistake_table(probe: float, entropy: float = 0.6, wrong: int = 10, scale=AT_SCALE) -> pd.DataFrame:
    """The probe reads `probe` on the not-computable steps the claim is about, 0.5 on every other set."""
    aurocs = {"probe": probe, "probe, random init": 0.5, "entropy": entropy, "1 - top probability": 0.55}
    return pd.DataFrame(
        [
            {
                "seed": s,
                "set": where,
                "detector": d,
                "auroc": a if where.endswith("not computable") or d != "probe" else 0.5,
                "accuracy": 0.7,
                "recall": 0.6,
                "n": 40,
                "wrong": wrong,
                **scale,
            }
            for s in (0, 1)
            for where in ("random parameter", "model's own steps", "model's own steps: not computable")
            for d, a in aurocs.items()
        ]
    )


def decoding_table(probe_tokens: float, probe_accuracy: float) -> pd.DataFrame:
    best = [("best of 1", 1, 100, 0.2), ("best of 2", 2, 200, 0.3), ("best of 4", 4, 400, 0.4)]
    rows = [("greedy", 1, 90, 0.25), *best, ("probe retry", 1, probe_tokens, probe_accuracy)]
    return pd.DataFrame(
        [
            {"seed": s, "strategy": n, "k": k, "tokens": t, "accuracy": a}
            for s in (0, 1)
            for n, k, t, a in rows
        ]
    )


def test_mistake_claims_probe_retry_and_decoding_supported():
    probe, retry, decoding = mistake_claims(
        mistake_table(0.8), math_accuracy(0.5, retry=0.6), decoding_table(150, 0.4), MISTAKES
    )
    assert probe["verdict"] == "supported" and probe["measured_value"] == pytest.approx(0.2)  # 0.8 - entropy
    assert retry["finding"] == "F3 mistakes: retry data (0.5)" and retry["measured_value"] == pytest.approx(
        0.1
    )
    assert retry["verdict"] == "supported"
    # best of k at 150 tokens: halfway between best of 1 (0.2) and best of 2 (0.3)
    assert decoding["measured_value"] == pytest.approx(0.15) and decoding["verdict"] == "supported"


def test_mistake_claims_refute_at_scale_and_stay_inconclusive_below_it_or_without_mistakes():
    probe, retry, decoding = mistake_claims(
        mistake_table(0.65), math_accuracy(0.5, retry=0.5), decoding_table(150, 0.2), MISTAKES
    )
    assert probe["verdict"] == retry["verdict"] == decoding["verdict"] == "refuted"
    small = mistake_claims(
        mistake_table(0.65, scale={**AT_SCALE, "n_layer": 4}),
        math_accuracy(0.5),
        decoding_table(150, 0.2),
        MISTAKES,
    )
    assert small[0]["verdict"].startswith("inconclusive: below the paper's conditions (n_layer 4 < 12")
    none = mistake_claims(
        mistake_table(float("nan"), wrong=0), math_accuracy(0.5), decoding_table(150, 0.2), MISTAKES
    )
    assert none[0]["verdict"].startswith("inconclusive: the model made no such mistakes")
    # A probe that never fires decodes greedily: greedy's accuracy at greedy's tokens, which beats
    # best of 1 (a single sample) but is no gain.
    (*_, silent) = mistake_claims(mistake_table(0.8), math_accuracy(0.5), decoding_table(90, 0.25), MISTAKES)
    assert silent["measured_value"] == pytest.approx(0.0) and silent["verdict"] == "refuted"
    # Greedy spending more tokens than the probe is not its baseline.
    (*_, cheap) = mistake_claims(mistake_table(0.8), math_accuracy(0.5), decoding_table(80, 0.25), MISTAKES)
    assert cheap["measured_value"] == pytest.approx(0.05)
    beyond = mistake_claims(mistake_table(0.8), math_accuracy(0.5), decoding_table(500, 0.9), MISTAKES)
    assert beyond[-1]["verdict"].startswith("inconclusive: probe retry spent more tokens")
