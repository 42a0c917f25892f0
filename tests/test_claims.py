import pandas as pd
import pytest

from physlm.claims import capacity_claims, knowledge_claim, manipulation_claims, probing_claim, write_claims

THRESHOLDS = {"min_gap": 0.2, "min_fit": 0.5}


def metrics(test: dict, train: float = 0.95, seeds=(0,)) -> pd.DataFrame:
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
                        )
                    )
    return pd.DataFrame(rows)


def settings(mixed, single, augmented):
    return {
        ("mixed", "single"): mixed,
        ("finetune", "single"): single,
        ("finetune", "multi5_permute"): augmented,
    }


def test_supported_when_both_gaps_clear_the_threshold():
    claim = knowledge_claim(metrics(settings(0.8, 0.1, 0.9)), THRESHOLDS)
    assert claim["verdict"] == "supported"
    assert claim["measured_value"] == pytest.approx(0.7)
    assert claim["paper_value"] == pytest.approx(0.866 - 0.097)
    assert "held-out bio recall 0.900" in claim["details"]


def test_refuted_when_one_gap_is_too_small_and_the_models_fit():
    claim = knowledge_claim(metrics(settings(0.8, 0.7, 0.9)), THRESHOLDS)
    assert claim["verdict"] == "refuted" and claim["measured_value"] == pytest.approx(0.1)


def test_inconclusive_when_a_model_did_not_learn_its_training_questions():
    claim = knowledge_claim(metrics(settings(0.1, 0.1, 0.1), train=0.2), THRESHOLDS)
    assert claim["verdict"] == "inconclusive"
    assert "below min_fit" in claim["details"]


def test_spread_over_seeds_and_markdown(tmp_path):
    table = metrics(settings(0.8, 0.1, 0.9), seeds=(0, 1))
    table.loc[(table.seed == 1) & (table.regime == "mixed") & (table.split == "test"), "accuracy"] = 0.6
    claim = knowledge_claim(table, THRESHOLDS)
    assert claim["measured_value"] == pytest.approx(0.6)
    assert claim["spread"] == pytest.approx(pd.Series([0.7, 0.5]).std())
    write_claims([claim], tmp_path / "claims.md", tmp_path / "claims.parquet", tmp_path / "claims.html")
    assert "**supported**" in (tmp_path / "claims.md").read_text()
    page = (tmp_path / "claims.html").read_text()
    assert "<table" in page and "supported" in page and claim["finding"] in page
    assert pd.read_parquet(tmp_path / "claims.parquet")["verdict"].tolist() == ["supported"]


def test_missing_setting_is_an_error():
    with pytest.raises(ValueError, match="no test QA metrics for mixed training on bioS single"):
        knowledge_claim(metrics({("finetune", "single"): 0.1}), THRESHOLDS)


MANIPULATION = {"min_forward": 0.5, "max_inverse_margin": 0.05, "min_control": 0.5}


def task_metrics(accuracy: dict, chance: float = 0.01, train: float = 1.0) -> pd.DataFrame:
    rows = [
        dict(
            variant=v,
            task=t,
            seed=0,
            split=split,
            accuracy=a if split == "test" else train,
            chance=chance,
            n=10,
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
    assert verdict(0.2, 0.0)[0] == "inconclusive"  # cannot even retrieve forward


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


def probes(first_aug: float, first_single: float, first_random: float, own: float = 0.9) -> pd.DataFrame:
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
    thresholds = {"min_gap": 0.2, "min_fit": 0.5}
    claim = probing_claim(probes(0.9, 0.1, 0.05), thresholds)
    assert claim["verdict"] == "supported" and claim["measured_value"] == pytest.approx(0.8)
    assert "random-init 0.050" in claim["details"] and "Q-probe" in claim["details"]
    # Equal to its random-init model: the probe, not the model, finds the attribute.
    assert probing_claim(probes(0.9, 0.1, 0.85), thresholds)["verdict"] == "refuted"
    assert probing_claim(probes(0.9, 0.1, 0.05, own=0.2), thresholds)["verdict"] == "inconclusive"


CAPACITY = {"min_fraction": 0.5, "max_ratio": 2.3, "min_int8_kept": 0.9, "max_int4_kept": 0.5}


def capacity_metrics(ratios: dict, kept: dict, exposures: int = 100, data: str = "bioS") -> pd.DataFrame:
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
    assert unknown["verdict"] == "inconclusive"  # the paper gives no ratio at 7 exposures
    _, int8, _ = capacity_claims(capacity_metrics({"s": 0.0}, {}), CAPACITY)
    assert int8["verdict"] == "inconclusive"  # nothing learned, nothing to lose


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
