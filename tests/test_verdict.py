"""The claims table's machinery: one function writes a row, one rule gives the verdict."""

import pytest

from physlm.engine.verdict import BELOW, COLUMNS, claim_row, judge

ROW = dict(
    finding="F0 example",
    hypothesis="an effect shows",
    metric="a gap",
    paper_value=0.5,
    measured_value=0.1,
    spread=float("nan"),
    threshold=">= 0.2",
    verdict="refuted",
    scale="steps 10",
    conditions="steps 100",
    details="",
)


def test_a_claim_row_has_every_column_in_order():
    assert list(claim_row(**ROW)) == COLUMNS
    assert claim_row(**ROW)["measured_value"] == 0.1


def test_a_claim_row_missing_a_column_names_it():
    with pytest.raises(TypeError, match="spread"):
        claim_row(**{k: v for k, v in ROW.items() if k != "spread"})


def test_a_missing_effect_refutes_only_at_the_papers_scale_and_names_what_falls_short():
    conditions = {"steps": 100, "n_layer": 12}
    assert judge(True, {"steps": 1, "n_layer": 1}, conditions) == "supported"
    assert judge(False, {"steps": 100, "n_layer": 12}, conditions) == "refuted"
    below = judge(False, {"steps": 99, "n_layer": 12}, conditions)
    assert below == f"{BELOW} (steps 99 < 100)"
