"""The claims table: each finding as a refutable claim with a verdict.

Thresholds come from the config and are fixed before any run; this module only applies them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from physlm.engine.artifacts import require_columns
from physlm.engine.config_types import (
    CapacityThresholds,
    KnowledgeThresholds,
    ManipulationThresholds,
    MathThresholds,
    MistakeThresholds,
    ProbingThresholds,
)
from physlm.engine.verdict import claim_row, judge, scale_columns, scale_of, spread_of
from physlm.knowledge.bios import Variant
from physlm.knowledge.paper import (
    CAPACITY_CONDITIONS,
    CAPACITY_RATIO,
    INT4_KEPT,
    MANIPULATION_ACCURACY,
    MANIPULATION_CONDITIONS,
    MIXED_CONDITIONS,
    P_PROBING_FIRST,
    PROBING_CONDITIONS,
    QA_ACCURACY,
    QA_CONDITIONS,
)
from physlm.knowledge.templates import ATTRIBUTES
from physlm.reasoning.paper import (
    MATH_CONDITIONS,
    MISTAKE_RANDOM_ACCURACY,
    MISTAKES_FLAGGED,
    RETRY_ACCURACY,
    VPROBE_ACCURACY,
    VPROBE_MAJORITY,
)


def _capacity_scale_columns(scale: dict, conditions: dict, exposures: float) -> dict:
    """As _scale_columns; at exposures where the paper states no law, say where it does."""
    if conditions:
        return scale_columns(scale, conditions)
    laws = " or ".join(f"{e:,}" for e in sorted(CAPACITY_CONDITIONS))
    return {
        "scale": f"exposures {exposures:,.0f}",
        "conditions": f"exposures {laws} (where the paper states the law)",
    }


def _mean_accuracy(
    metrics: pd.DataFrame, regime: str, variant: str, split: str, column: str = "accuracy"
) -> pd.Series:
    """Mean of `column` over attributes, one value per seed."""
    rows = metrics[(metrics.regime == regime) & (metrics.variant == variant) & (metrics.split == split)]
    if rows.empty:
        raise ValueError(f"no {split} QA metrics for {regime} training on bioS {variant}")
    return rows.groupby("seed")[column].mean()


def knowledge_claims(metrics: pd.DataFrame, thresholds: KnowledgeThresholds) -> list[dict]:
    """Finding 2 as two claims: extraction of held-out people's knowledge after pretrain + finetune
    needs augmented pretraining (multi5_permute vs single), and mixed training extracts it (mixed vs
    single pretrain + finetune).

    Measured value: held-out QA of the setting minus that of single pretrain + finetune, per seed,
    averaged. If either setting scores below `min_fit` on its own QA-train people, it did not learn
    its training questions, so its held-out score says nothing: inconclusive.
    """
    require_columns(metrics, ("regime", "variant", "seed", "split"), "the knowledge metrics")
    single = ("finetune", "single")
    claims = {
        "F2a augmentation": (
            ("finetune", "multi5_permute"),
            QA_CONDITIONS,
            "held-out QA is high after multi5_permute pretraining + finetune, low after single "
            "pretraining + finetune",
        ),
        "F2b mixed training": (
            ("mixed", "single"),
            MIXED_CONDITIONS,
            "held-out QA is high after mixed training (biographies + QA of the train half), low after "
            "single pretraining + finetune",
        ),
    }
    rows = []
    for name, (setting, conditions, hypothesis) in claims.items():
        compared = {"/".join(s): s for s in (setting, single)}
        test = {k: _mean_accuracy(metrics, *v, "test") for k, v in compared.items()}
        train = {k: _mean_accuracy(metrics, *v, "train") for k, v in compared.items()}
        stored = {k: _mean_accuracy(metrics, *v, "test", "bio_recall").mean() for k, v in compared.items()}
        gap = test["/".join(setting)] - test["/".join(single)]
        scale = scale_of(_runs(metrics, list(compared.values())), conditions)
        unfit = [k for k, v in train.items() if v.mean() < thresholds.min_fit]
        if unfit:
            verdict = "inconclusive: a setting did not learn its own QA-train questions"
        else:
            verdict = judge(gap.mean() >= thresholds.min_gap, scale, conditions)
        details = "; ".join(
            f"{k}: held-out QA {test[k].mean():.3f} (paper {QA_ACCURACY[v]:.3f}), "
            f"QA-train {train[k].mean():.3f}, held-out bio recall {_recall_before(metrics, v)}{stored[k]:.3f}"
            for k, v in compared.items()
        )
        if unfit:
            details += f"; below min_fit={thresholds.min_fit} on QA-train: {', '.join(unfit)}"
        rows.append(
            claim_row(
                finding=f"{name}: knowledge must be in pretraining",
                hypothesis=hypothesis,
                metric=f"{'/'.join(setting)} minus finetune/single held-out QA accuracy",
                paper_value=QA_ACCURACY[setting] - QA_ACCURACY[single],
                measured_value=float(gap.mean()),
                spread=spread_of(gap),
                threshold=f">= {thresholds.min_gap:.3f}",
                verdict=verdict,
                **scale_columns(scale, conditions),
                details=details,
            )
        )
    return rows


def _recall_before(metrics: pd.DataFrame, setting: tuple[str, str]) -> str:
    """ "X after pretraining -> " for a fine-tuned setting whose pretrained model was evaluated."""
    regime, variant = setting
    rows = metrics[(metrics.regime == "pretrain") & (metrics.variant == variant) & (metrics.split == "test")]
    if regime != "finetune" or rows.empty:
        return ""
    return f"{rows['bio_recall'].mean():.3f} after pretraining -> "


def _runs(metrics: pd.DataFrame, settings: list[tuple[str, str]]) -> pd.DataFrame:
    """The metrics rows of the given (regime, variant) settings."""
    keys = pd.Series(list(zip(metrics.regime, metrics.variant, strict=True)), index=metrics.index)
    return metrics[keys.isin(settings)]


def _task_accuracy(metrics: pd.DataFrame, variant: str, task: str, split: str = "test") -> pd.DataFrame:
    """Accuracy and chance level per seed for one (variant, task, split)."""
    rows = metrics[(metrics.variant == variant) & (metrics.task == task) & (metrics.split == split)]
    return rows.groupby("seed")[["accuracy", "chance"]].mean()


def _inverse_above_chance(metrics: pd.DataFrame, variant: str) -> tuple[pd.Series, list[str]]:
    """Per seed, the largest held-out (accuracy - chance) over the inverse-search tasks run."""
    tasks = sorted(t for t in metrics[metrics.variant == variant].task.unique() if t.startswith("inverse"))
    if not tasks:
        raise ValueError(f"no inverse-search task was run on bioS {variant}")
    margins = [_task_accuracy(metrics, variant, t).pipe(lambda d: d.accuracy - d.chance) for t in tasks]
    return pd.concat(margins, axis=1).max(axis=1), tasks


def _task_details(metrics: pd.DataFrame, variant: str) -> str:
    """Held-out and QA-train accuracy and chance of every task run on `variant`."""
    rows = metrics[metrics.variant == variant]
    accuracy = rows.groupby(["task", "split"])["accuracy"].mean().unstack("split")
    chance = rows[rows.split == "test"].groupby("task")["chance"].mean()
    return "; ".join(
        f"{t}: held-out {r.test:.3f} (QA-train {r.train:.3f}, chance {chance[t]:.3f})"
        for t, r in accuracy.iterrows()
    )


def manipulation_claims(metrics: pd.DataFrame, thresholds: ManipulationThresholds) -> list[dict]:
    """Finding 5: forward retrieval works, inverse search stays at chance; reversed data fixes it.

    One main row per non-reversed variant fine-tuned on forward and inverse tasks (the config runs
    multi5_permute), one control row per _reverse variant with an inverse task. A forward accuracy
    below `min_forward` means the model cannot even retrieve what it knows, so a failing inverse
    search would say nothing: inconclusive.
    """
    require_columns(metrics, ("variant", "task", "seed", "split"), "the manipulation metrics")
    tasks_run = metrics.groupby("variant")["task"].agg(set)
    variants = [v for v, tasks in tasks_run.items() if any(t.startswith("inverse") for t in tasks)]
    main = [v for v in variants if not Variant.parse(v).reverse and "forward" in tasks_run[v]]

    rows = []
    for variant in main:
        forward = _task_accuracy(metrics, variant, "forward").accuracy
        margin, tasks = _inverse_above_chance(metrics, variant)
        scale = scale_of(metrics[metrics.variant == variant], MANIPULATION_CONDITIONS)
        if forward.mean() < thresholds.min_forward:
            verdict = "inconclusive: forward QA fails, nothing to contrast inverse search with"
        else:
            verdict = judge(margin.mean() <= thresholds.max_inverse_margin, scale, MANIPULATION_CONDITIONS)
        rows.append(
            claim_row(
                finding="F5 knowledge access is one-way",
                hypothesis=f"after fine-tuning {variant}, forward QA on held-out people is high "
                f"(>= {thresholds.min_forward}) while inverse search ({', '.join(tasks)}) stays at chance",
                metric="held-out inverse-search accuracy minus chance (max over inverse tasks)",
                paper_value=MANIPULATION_ACCURACY["inverse2"],
                measured_value=float(margin.mean()),
                spread=spread_of(margin),
                threshold=f"<= {thresholds.max_inverse_margin:.3f}",
                verdict=verdict,
                **scale_columns(scale, MANIPULATION_CONDITIONS),
                details=_task_details(metrics, variant),
            )
        )
    for variant in (v for v in variants if Variant.parse(v).reverse):
        margin, tasks = _inverse_above_chance(metrics, variant)
        scale = scale_of(metrics[metrics.variant == variant], MANIPULATION_CONDITIONS)
        rows.append(
            claim_row(
                finding="F5 control: reversed biographies",
                hypothesis=f"pretrained on {variant} (name after the attributes), inverse search "
                f"({', '.join(tasks)}) works on held-out people",
                metric="held-out inverse-search accuracy minus chance (max over inverse tasks)",
                paper_value=float("nan"),
                measured_value=float(margin.mean()),
                spread=spread_of(margin),
                threshold=f">= {thresholds.min_control:.3f}",
                verdict=judge(margin.mean() >= thresholds.min_control, scale, MANIPULATION_CONDITIONS),
                **scale_columns(scale, MANIPULATION_CONDITIONS),
                details=_task_details(metrics, variant),
            )
        )
    return rows


def _p_probe_first(probes: pd.DataFrame, variant: str, model: str) -> pd.Series:
    """Per seed: P-probe accuracy at text position 1 on attributes the text states later."""
    rows = probes[(probes.probe == "P") & (probes.variant == variant) & (probes.model == model)]
    if rows.empty:
        raise ValueError(f"no P-probing results for the {model} model of bioS {variant}")
    return rows[rows.position == 1].groupby("seed")["later_accuracy"].mean()


def _paper_later(variant: str) -> float:
    """The paper's position-1 P-probe accuracy on the attributes a single biography states later."""
    return float(np.mean([P_PROBING_FIRST[variant][a] for a in ATTRIBUTES[1:]]))


def probing_claim(probes: pd.DataFrame, thresholds: ProbingThresholds) -> dict:
    """Finding 2's mechanism: with augmentation, attributes are readable on the name already.

    Measured: at the first text position (right after the name), mean held-out accuracy on the
    attributes stated later; the smaller of multi5_permute minus single and multi5_permute minus
    its random-init model. Inconclusive when the probe cannot even read single's attributes at the
    token right before their value, where the pretrained model predicts them.
    """
    require_columns(probes, ("variant", "seed", "probe", "model"), "the probing table")
    aug = _p_probe_first(probes, "multi5_permute", "pretrained")
    single = _p_probe_first(probes, "single", "pretrained")
    random = _p_probe_first(probes, "multi5_permute", "random init")
    gap = pd.concat([aug - single, aug - random], axis=1).min(axis=1)
    p = probes[probes.probe == "P"]
    own = p[(p.variant == "single") & (p.model == "pretrained")]["next_accuracy"].mean()
    scale = scale_of(p[(p.variant == "multi5_permute") & (p.model == "pretrained")], PROBING_CONDITIONS)
    if own < thresholds.min_fit:
        verdict = "inconclusive: the probe cannot read single's values even right before them"
    else:
        verdict = judge(gap.mean() >= thresholds.min_gap, scale, PROBING_CONDITIONS)
    majority = p[(p.variant == "multi5_permute") & (p.position == 1)]["majority"].mean()
    q = probes[probes.probe == "Q"].groupby(["variant", "model"])["accuracy"].mean()
    details = (
        f"position-1 accuracy on later attributes: multi5_permute {aug.mean():.3f}, "
        f"single {single.mean():.3f}, random-init {random.mean():.3f}, majority class {majority:.3f}; "
        f"single's accuracy right before each value {own:.3f}; Q-probe mean accuracy "
        + ", ".join(f"{v} {m} {a:.3f}" for (v, m), a in q.items())
    )
    return claim_row(
        finding="F2 mechanism: P-probing",
        hypothesis="augmented pretraining (multi5_permute) stores attributes on the name: a probe reads "
        "them right after the name, unlike single or a random-init model",
        metric="position-1 P-probe accuracy, multi5_permute minus max(single, random init)",
        paper_value=_paper_later("multi5_permute") - _paper_later("single"),  # it probes no random init
        measured_value=float(gap.mean()),
        spread=spread_of(gap),
        threshold=f">= {thresholds.min_gap:.3f}",
        verdict=verdict,
        **scale_columns(scale, PROBING_CONDITIONS),
        details=details,
    )


def capacity_claims(metrics: pd.DataFrame, thresholds: CapacityThresholds) -> list[dict]:
    """Finding 1: the best bits-per-parameter ratio is near the paper's at the exposures run; int8
    keeps the bits, int4 loses over half.

    The peak ratio (over model sizes and N) of each dataset must lie in [min_fraction x paper,
    max_ratio]: the paper finds the same law on bioS, bioS simple and bioD. The quantization rows
    compare each model's quantized bits with its own unquantized bits, averaged over the models (of
    every dataset) that learned anything.
    """
    require_columns(metrics, ("data", "n", "exposures", "size", "seed", "quantization"), "the capacity table")
    plain = metrics[metrics.quantization == "none"]
    rows = [
        _capacity_peak(data, exposures, runs, thresholds)
        for (data, exposures), runs in plain.groupby(["data", "exposures"], sort=False)
    ]
    return rows + _quantization_claims(metrics, thresholds)


def _capacity_peak(data: str, exposures: int, runs: pd.DataFrame, thresholds: CapacityThresholds) -> dict:
    """The peak-ratio claim of one dataset at one exposure count."""
    part = runs[runs.n_layer >= 2]  # the paper leaves 1-layer models out of the law
    if part.empty:
        return _no_deep_model(data, exposures)
    peak = part.groupby("seed")["bits_per_parameter"].max()
    paper = CAPACITY_RATIO.get(int(exposures), float("nan"))
    low, known = thresholds.min_fraction * paper, not pd.isna(paper)
    conditions = CAPACITY_CONDITIONS.get(int(exposures), {})
    scale = scale_of(part, conditions, pick="max")
    if not known:
        verdict = "inconclusive: the paper gives no ratio at these exposures"
    else:
        verdict = judge(low <= peak.mean() <= thresholds.max_ratio, scale, conditions)
    best = part.loc[part["bits_per_parameter"].idxmax()]
    return claim_row(
        finding="F1 knowledge capacity",
        hypothesis=f"on {data} at {exposures} exposures the best model stores about "
        + (f"{paper:g} bits per parameter" if known else "the paper's ratio (it gives none here)"),
        metric="peak bits of knowledge per parameter over model sizes and N",
        paper_value=paper,
        measured_value=float(peak.mean()),
        spread=spread_of(peak),
        threshold=f"in [{low:.2f}, {thresholds.max_ratio:.2f}]" if known else "none (no paper value)",
        verdict=verdict,
        **_capacity_scale_columns(scale, conditions, exposures),
        details=f"peak at size {best['size']}, N={best.n}: {best.bits:,.0f} bits, "
        f"{best.parameters:,} parameters; "
        + ", ".join(
            f"{r.size} N={r.n}: {r.bits_per_parameter:.3f}"
            for r in part.sort_values(["n", "parameters"]).itertuples()
        ),
    )


def _quantization_claims(metrics: pd.DataFrame, thresholds: CapacityThresholds) -> list[dict]:
    """int8 keeps each model's bits, int4 loses over half (mean over models that learned any)."""
    keys = ["data", "n", "exposures", "size", "seed"]
    bits = metrics.pivot_table(index=keys, columns="quantization", values="bits")
    bits = bits[bits["none"] > 0]
    # The paper reports quantization on models at capacity: the conditions of the fewest exposures run.
    conditions = CAPACITY_CONDITIONS.get(int(metrics.exposures.min()), {}) if len(metrics) else {}
    scale = scale_of(metrics, conditions, pick="max")
    rows = []
    for scheme, direction, bound, paper in (
        ("int8", ">=", thresholds.min_int8_kept, 1.0),
        ("int4", "<=", thresholds.max_int4_kept, INT4_KEPT),
    ):
        kept = (bits[scheme] / bits["none"]).groupby("seed").mean()
        if kept.empty:
            verdict = "inconclusive: no model learned anything to lose"
        else:
            holds = kept.mean() >= bound if direction == ">=" else kept.mean() <= bound
            verdict = judge(holds, scale, conditions)
        rows.append(
            claim_row(
                finding=f"F1 capacity under {scheme}",
                hypothesis="int8 keeps the learned bits" if scheme == "int8" else "int4 loses over half",
                metric=f"bits after {scheme} quantization / bits before (mean over models)",
                paper_value=paper,
                measured_value=float(kept.mean()) if not kept.empty else float("nan"),
                spread=spread_of(kept),
                threshold=f"{direction} {bound:.2f}",
                verdict=verdict,
                **_capacity_scale_columns(scale, conditions, metrics.exposures.min()),
                details=f"{len(bits)} models with any learned bits",
            )
        )
    return rows


def _no_deep_model(data: str, exposures: int) -> dict:
    return claim_row(
        finding="F1 knowledge capacity",
        hypothesis=f"on {data} at {exposures} exposures the best model stores the paper's bits per parameter",
        metric="peak bits of knowledge per parameter over model sizes and N",
        paper_value=CAPACITY_RATIO.get(int(exposures), float("nan")),
        measured_value=float("nan"),
        spread=float("nan"),
        threshold="",
        verdict="inconclusive: no model with 2 or more layers",
        **_capacity_scale_columns({}, {}, exposures),
        details="every model has one layer; the paper leaves 1-layer models out of the law",
    )


def planning_claim(vprobes: pd.DataFrame, accuracy: pd.DataFrame, thresholds: MathThresholds) -> dict:
    """Finding 4: before writing any solution token, the model knows which parameters the question
    needs. Measured: held-out nece(A) probe accuracy at the end of the question, minus the larger of
    the random-init model's and the majority class's, per seed. Inconclusive when the model does not
    solve its in-distribution problems (mean accuracy over ops below `min_accuracy`): a probe then has
    no learned model to read."""
    require_columns(vprobes, ("seed", "task", "model"), "the V-probe table")
    require_columns(accuracy, ("seed", "data", "op", "in_distribution"), "the math accuracy table")
    accuracy = accuracy[accuracy.data == "clean"]
    if "nece" not in set(vprobes.task):
        raise ValueError("the V-probe table has no nece task: add it to math.vprobe.tasks")
    by_task = vprobes.groupby(["task", "model"])[["accuracy", "majority"]].mean()
    nece = vprobes[vprobes.task == "nece"].set_index(["model", "seed"])
    trained, random = nece.loc["trained"], nece.loc["random init"]
    gap = trained["accuracy"] - pd.concat([random["accuracy"], trained["majority"]], axis=1).max(axis=1)
    solved = accuracy[accuracy.in_distribution].groupby("seed")["accuracy"].mean()
    beyond = accuracy[~accuracy.in_distribution]["accuracy"].mean()
    scale = scale_of(vprobes[vprobes.model == "trained"], MATH_CONDITIONS)
    if solved.mean() < thresholds.min_accuracy:
        verdict = (
            f"inconclusive: the model solves {solved.mean():.3f} < {thresholds.min_accuracy} of its "
            "in-distribution problems, so there is no learned model to read"
        )
    else:
        verdict = judge(gap.mean() >= thresholds.min_gap, scale, MATH_CONDITIONS)

    def task(name: str) -> str:
        trained, random = by_task.loc[(name, "trained")], by_task.loc[(name, "random init")]
        return f"{name} {trained['accuracy']:.3f} / {random['accuracy']:.3f} / {trained['majority']:.3f}"

    tasks = "; ".join(task(name) for name in dict.fromkeys(vprobes.task))
    return claim_row(
        finding="F4 planning: V-probing",
        hypothesis="before writing the solution the model knows which parameters the question needs: "
        "nece(A) read at the end of the question beats a random-init model and the majority class",
        metric="held-out nece(A) probe accuracy minus max(random init, majority class)",
        paper_value=VPROBE_ACCURACY["trained"]["nece"]
        - max(VPROBE_ACCURACY["random init"]["nece"], VPROBE_MAJORITY["nece"]),
        measured_value=float(gap.mean()),
        spread=spread_of(gap),
        threshold=f">= {thresholds.min_gap:.3f}",
        verdict=verdict,
        **scale_columns(scale, MATH_CONDITIONS),
        details=f"probe accuracy trained / random init / majority: {tasks}; problems solved in "
        f"distribution {solved.mean():.3f}, out of distribution {beyond:.3f}",
    )


OTHER_DETECTORS = ("probe, random init", "entropy", "1 - top probability")
OWN = "model's own steps"  # physlm.reasoning.mistakes.MODEL_MISTAKES (not imported: claims need no torch)


def _probe_claim(mistakes: pd.DataFrame, min_gap: float) -> dict:
    """Finding 3: the mistake probe flags the model's own wrong steps better than any other detector."""
    require_columns(mistakes, ("seed", "set", "detector", "auroc", "recall", "wrong"), "the mistakes table")
    own = mistakes[mistakes.set == OWN].pivot(index="seed", columns="detector", values="auroc")
    gap = own["probe"] - own[list(OTHER_DETECTORS)].max(axis=1)
    scale = scale_of(mistakes, MATH_CONDITIONS)
    wrong = mistakes[(mistakes.set == OWN) & (mistakes.detector == "probe")]
    if wrong["wrong"].sum() == 0 or gap.isna().all():
        verdict = "inconclusive: the model made no mistakes (or no right steps) to tell apart"
    else:
        verdict = judge(gap.mean() >= min_gap, scale, MATH_CONDITIONS)
    means = mistakes.groupby(["set", "detector"])[["auroc", "recall", "accuracy"]].mean()

    def line(where: str) -> str:
        rows = means.loc[where]
        aurocs = ", ".join(f"{d} {rows.loc[d, 'auroc']:.3f}" for d in ("probe", *OTHER_DETECTORS))
        probe = rows.loc["probe"]
        return (
            f"{where}: AUROC {aurocs}; probe accuracy {probe['accuracy']:.3f}, recall {probe['recall']:.3f}"
        )

    return claim_row(
        finding="F3 mistakes: probe",
        hypothesis="a probe on the hidden state at 'Define A as' flags the model's own wrong steps "
        "better than the same probe on a random-init model and the model's own uncertainty",
        metric="AUROC on the model's own steps: probe minus the best of random init, entropy, "
        "top probability (the paper reports accuracies, no AUROC: no paper value)",
        paper_value=float("nan"),
        measured_value=float(gap.mean()),
        spread=spread_of(gap),
        threshold=f">= {min_gap:.3f}",
        verdict=verdict,
        **scale_columns(scale, MATH_CONDITIONS),
        details=f"{line(OWN)} ({int(wrong['wrong'].sum())} wrong of {int(wrong['n'].sum())} steps; "
        f"paper: about {MISTAKES_FLAGGED:.0%} of real mistakes flagged); {line('random parameter')} "
        f"(paper: {MISTAKE_RANDOM_ACCURACY:.0%} accurate)",
    )


def _retry_claims(accuracy: pd.DataFrame, min_gain: float) -> list[dict]:
    """Retry data: at equal training tokens, a model trained with retries solves more of its
    in-distribution problems than one trained on clean data. One claim per retry rate."""
    solved = accuracy[accuracy.in_distribution].groupby(["data", "seed"])["accuracy"].mean()
    rows = []
    for data in sorted(set(accuracy.data) - {"clean"}):
        gain = solved.loc[data] - solved.loc["clean"]
        runs = accuracy[accuracy.data.isin(["clean", data])]
        scale = scale_of(runs, MATH_CONDITIONS)
        rows.append(
            claim_row(
                finding=f"F3 mistakes: retry data ({data.removeprefix('retry')})",
                hypothesis="at equal training tokens, retry data (wrong steps taken back with [BACK]) "
                "beats clean data",
                metric="in-distribution accuracy, retry minus clean",
                paper_value=RETRY_ACCURACY[1] - RETRY_ACCURACY[0],
                measured_value=float(gain.mean()),
                spread=spread_of(gain),
                threshold=f">= {min_gain:.3f}",
                verdict=judge(gain.mean() >= min_gain, scale, MATH_CONDITIONS),
                **scale_columns(scale, MATH_CONDITIONS),
                details=f"in distribution: clean {solved.loc['clean'].mean():.3f}, {data} "
                f"{solved.loc[data].mean():.3f}; paper (iGSM-med op = 23, q = 0.5): "
                f"{RETRY_ACCURACY[0]:.0%} -> {RETRY_ACCURACY[1]:.1%}",
            )
        )
    return rows


def _decoding_claim(decoding: pd.DataFrame, mistakes: pd.DataFrame, min_gain: float) -> dict:
    """Beyond the paper: retrying where the mistake probe fires beats best of k at the same number of
    generated tokens (best of k's accuracy interpolated over its k at the probe's tokens)."""
    require_columns(decoding, ("seed", "strategy", "k", "accuracy", "tokens"), "the decoding table")
    gains, beyond = [], []
    for _, runs in decoding.groupby("seed"):
        best = runs[runs.strategy.str.startswith("best of")].sort_values("tokens")
        probe = runs[runs.strategy == "probe retry"].iloc[0]
        beyond.append(probe["tokens"] > best["tokens"].max())
        gains.append(probe["accuracy"] - np.interp(probe["tokens"], best["tokens"], best["accuracy"]))
    gain = pd.Series(gains)
    scale = scale_of(mistakes, MATH_CONDITIONS)
    if any(beyond):
        verdict = "inconclusive: probe retry spent more tokens than the largest best of k (add a larger k)"
    else:
        verdict = judge(gain.mean() >= min_gain, scale, MATH_CONDITIONS)
    table = decoding.groupby("strategy", sort=False)[["accuracy", "tokens"]].mean()
    shown = "; ".join(f"{name} {r.accuracy:.3f} ({r.tokens:.0f} tokens)" for name, r in table.iterrows())
    return claim_row(
        finding="F3+ decoding: probe retry vs best of k",
        hypothesis="beyond the paper: resampling a step where the mistake probe fires beats best of k "
        "(majority answer) at equal generated tokens",
        metric="accuracy, probe retry minus best of k at the same tokens per problem",
        paper_value=float("nan"),
        measured_value=float(gain.mean()),
        spread=spread_of(gain),
        threshold=f">= {min_gain:.3f}",
        verdict=verdict,
        **scale_columns(scale, MATH_CONDITIONS),
        details=f"accuracy (tokens per problem): {shown}",
    )


def mistake_claims(
    mistakes: pd.DataFrame, accuracy: pd.DataFrame, decoding: pd.DataFrame, thresholds: MistakeThresholds
) -> list[dict]:
    """Finding 3 (Part 2.2) and the step beyond it: the mistake probe, retry data, probe-guided
    decoding; each below the paper's model scale can support but not refute."""
    require_columns(accuracy, ("seed", "data", "in_distribution", "accuracy"), "the math accuracy table")
    return [
        _probe_claim(mistakes, thresholds.min_auroc_gap),
        *_retry_claims(accuracy, thresholds.min_retry_gain),
        _decoding_claim(decoding, mistakes, thresholds.min_decoding_gain),
    ]
