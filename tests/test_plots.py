"""Figure helpers with logic of their own (the figures themselves are drawn by the smoke DAG)."""

import numpy as np
import pandas as pd
import pytest

from physlm.mistakes import auroc
from physlm.plots.math import _roc


def test_roc_curve_steps_through_the_scores_and_its_area_is_the_auroc():
    fpr, tpr = _roc(pd.Series([0, 0, 1, 1]), pd.Series([0.1, 0.2, 0.3, 0.4]))
    assert (fpr, tpr) == ([0.0, 0.0, 0.0, 0.5, 1.0], [0.0, 0.5, 1.0, 1.0, 1.0])
    rng = np.random.default_rng(0)
    wrong, score = pd.Series(rng.random(200) < 0.3), pd.Series(rng.integers(0, 6, 200).astype(float))
    fpr, tpr = _roc(wrong, score)  # ties: flagged together, a diagonal segment, as the AUROC counts half
    area = float(np.sum(np.diff(fpr) * (np.array(tpr[1:]) + np.array(tpr[:-1])) / 2))
    assert area == pytest.approx(auroc(wrong.to_numpy(), score.to_numpy()))


def test_curves_of_a_later_stage_follow_the_steps_of_the_stages_before():
    from physlm.plots.math import _through_stages

    curves = pd.DataFrame(
        {
            "seed": 0,
            "data": "clean",
            "stage": [1, 1, 2, 2, 3],
            "step": [50, 100, 40, 80, 10],
            "accuracy": 0.0,
        }
    )
    assert _through_stages(curves).sort_values(["stage", "step"])["step"].tolist() == [50, 100, 140, 180, 190]
