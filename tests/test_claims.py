import pandas as pd
import pytest

from physlm.claims import knowledge_claim, write_claims

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
    write_claims([claim], tmp_path / "claims.md", tmp_path / "claims.parquet")
    assert "**supported**" in (tmp_path / "claims.md").read_text()
    assert pd.read_parquet(tmp_path / "claims.parquet")["verdict"].tolist() == ["supported"]


def test_missing_setting_is_an_error():
    with pytest.raises(ValueError, match="no test QA metrics for mixed training on bioS single"):
        knowledge_claim(metrics({("finetune", "single"): 0.1}), THRESHOLDS)
