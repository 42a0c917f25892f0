"""Does a math model know it is about to make a mistake? The mistake probe (Part 2.2).

A solution step starts "Define A as"; the step is a mistake when A cannot be computed yet (an input
is not defined), is defined already, or is no parameter of the problem at all. The paper trains a
can_next(A) probe where the model has just written "Define A as" and reads it there: on a random A
at a boundary of a right solution it is 99% accurate, and on the model's own first mistakes it flags
about 60%. Here:

- the probe (physlm.engine.probe.Probe: frozen model, rank-r update of the input embedding, a normalized
  linear head on the last hidden state) trains on right solutions of probe-train problems, cut at a
  sentence boundary and followed by "Define A as" for a random parameter A (the paper's set); its
  label is "wrong" = not can_next(A);
- it is scored on held-out problems of that set, and on the steps the model itself wrote on the
  test problems (from `evaluate-math`'s solutions), up to and including each solution's first wrong
  step, whose label the checker gives;
- beside it: the same probe on a random-init model of the same shape, the model's own uncertainty
  while it wrote the parameter's name (mean next-token entropy, and one minus the mean top
  probability), and the majority class. Every detector is scored by AUROC; the probe (threshold
  0.5) and the majority class also by accuracy, precision and recall.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from physlm.engine.artifacts import load_model, read_scale, with_identity, write_table
from physlm.engine.config_types import MistakeProbeConfig, ModelConfig
from physlm.engine.models import build_model
from physlm.engine.probe import Probe, fit, pad_right, predict, probe_model
from physlm.engine.scoring import teacher_forced
from physlm.reasoning.checker import check
from physlm.reasoning.igsm import at_position, prompt
from physlm.reasoning.vprobe import TEST_EVERY

STEP_COLUMNS = ["problem", "op", "step", "name", "wrong", "error", "necessary", "before"]
RANDOM_PARAMETER = "random parameter"  # the paper's set: right solutions, "Define A as" a random A
MODEL_MISTAKES = "model's own steps"  # what the model wrote, up to its first mistake


def step_start(before: list[str], name: str) -> str:
    """The solution so far, then the start of the step that defines `name`: where the probe reads."""
    return " ".join([*before, f"Define {name} as"])


def own_steps(problems: pd.DataFrame, solutions: pd.DataFrame) -> pd.DataFrame:
    """Per problem, the steps its solution wrote up to and including the first wrong one: the step's
    parameter, whether it is wrong and why (checker error kinds), and the sentences before it.
    Retries and sentences that name no parameter cannot be read at "Define A as" and are left out."""
    text = problems.set_index("problem")
    rows = []
    for solution in solutions.itertuples():
        problem = text.loc[solution.problem]
        verdict = check(problem["text"], problem["question"], solution.solution)
        before: list[str] = []
        for k, step in enumerate(verdict.steps):
            if step.name is not None and not step.retry:
                rows.append(
                    {
                        "problem": solution.problem,
                        "op": solution.op,
                        "step": k,
                        "name": step.name,
                        "wrong": step.error is not None,
                        "error": step.error or "",
                        "necessary": step.necessary,
                        "before": list(before),
                    }
                )
            if step.error is not None:
                break
            before.append(step.text + ".")
    return pd.DataFrame(rows, columns=STEP_COLUMNS)


def random_parameter_steps(
    problems: pd.DataFrame, params: pd.DataFrame, queries: int, seed: int
) -> pd.DataFrame:
    """The paper's set: right solutions cut before sentence k, then "Define A as" for a random
    parameter A (unnecessary ones and defined ones included), at most `queries` per problem; wrong =
    A cannot be defined next (not can_next)."""
    by_problem = {k: group.sort_values("param") for k, group in params.groupby("problem", sort=False)}
    rows = []
    for problem in problems.itertuples():
        table = by_problem[problem.problem]
        rng = random.Random(f"mistakes/{seed}/{problem.problem}")
        slots = [(k, a) for k in range(len(problem.solution)) for a in range(len(table))]
        for k, a in rng.sample(slots, min(queries, len(slots))):
            row = table.iloc[a]
            at = at_position(row["step"], row["ready"], row["nece"], row["value"], k)
            rows.append(
                {
                    "problem": problem.problem,
                    "op": problem.op,
                    "step": k,
                    "name": row["name"],
                    "wrong": not at["can_next"],
                    "error": "",
                    "necessary": bool(row["nece"]),
                    "before": list(problem.solution[:k]),
                }
            )
    return pd.DataFrame(rows, columns=STEP_COLUMNS)


def encode(tokenizer, problems: pd.DataFrame, steps: pd.DataFrame) -> tuple[list[list[int]], list[int]]:
    """Token ids of each step's prompt and solution so far up to "Define A as" (preceded by the
    document separator, as in training), and where "Define" is (the name follows it)."""
    if steps.empty:
        return [], []
    text = problems.set_index("problem")
    eos = tokenizer.eos_token_id
    prompts = [prompt(text.loc[p, "text"], text.loc[p, "question"]) for p in steps["problem"]]
    heads = tokenizer(prompts)["input_ids"]
    tails = tokenizer([step_start(b, n) for b, n in zip(steps["before"], steps["name"], strict=True)])[
        "input_ids"
    ]
    define = tokenizer.convert_tokens_to_ids("▁Define")
    ids = [[eos, *h, *t] for h, t in zip(heads, tails, strict=True)]
    starts = [len(x) - 1 - x[::-1].index(define) for x in ids]
    return ids, starts


def uncertainty(
    model, ids: list[list[int]], starts: list[int], pad: int, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """The model's uncertainty while it wrote each step's parameter name (the tokens between
    "Define" and "as"): mean next-token entropy, and one minus the mean top probability; the steps
    run through the model `batch_size` at a time."""

    def read(logits: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        p = logits.float().softmax(-1)
        return torch.stack([-(p * p.clamp_min(1e-12).log()).sum(-1), p.max(-1).values], -1)

    with torch.no_grad():
        per_position = teacher_forced(model, ids, pad, read, batch_size)
    name = [v[start : len(x) - 2] for v, x, start in zip(per_position, ids, starts, strict=True)]
    return np.array([float(v[:, 0].mean()) for v in name]), np.array(
        [float(1 - v[:, 1].mean()) for v in name]
    )


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative
    (ties count half); NaN when one class is missing."""
    labels = np.asarray(labels, dtype=bool)
    positives, negatives = scores[labels], scores[~labels]
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    ranks = pd.Series(np.concatenate([positives, negatives])).rank().to_numpy()
    return float(
        (ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2)
        / (len(positives) * len(negatives))
    )


def scores_at_half(labels: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Accuracy, precision and recall of flagging (`flagged`) the wrong steps (`labels`)."""
    labels, flagged = np.asarray(labels, dtype=bool), np.asarray(flagged, dtype=bool)
    hits = (labels & flagged).sum()
    return {
        "accuracy": float((labels == flagged).mean()) if len(labels) else float("nan"),
        "precision": float(hits / flagged.sum()) if flagged.any() else float("nan"),
        "recall": float(hits / labels.sum()) if labels.any() else float("nan"),
    }


def train_probe(
    model,
    tokenizer,
    problems: pd.DataFrame,
    params: pd.DataFrame,
    cfg: MistakeProbeConfig,
    seed: int,
    log: Callable[[str], None] = print,
) -> tuple[Probe, pd.DataFrame, list[list[int]]]:
    """The mistake probe trained on the probe-train problems' random-parameter steps; returns it, the
    steps (with `train`), and their token ids."""
    steps = random_parameter_steps(problems, params, cfg.queries, seed)
    steps["train"] = steps["problem"] % TEST_EVERY != 0
    ids, _ = encode(tokenizer, problems, steps)
    probe = probe_model(model, cfg.rank, [2], seed)
    labels = torch.tensor(steps["wrong"].to_numpy(dtype=np.int64))[:, None]
    fit(
        probe,
        pad_right(ids, tokenizer.pad_token_id),
        _last(ids),
        labels,
        steps["train"].to_numpy(),
        cfg,
        seed,
        log,
    )
    return probe, steps, ids


def flag_probability(probe: Probe, ids: list[list[int]], pad: int, batch_size: int) -> np.ndarray:
    """The probe's probability that each step (read at its last token, "as") is wrong."""
    if not ids:
        return np.zeros(0)
    return predict(probe, pad_right(ids, pad), _last(ids), batch_size)[0][:, 1]


def _last(ids: list[list[int]]) -> torch.Tensor:
    return torch.tensor([[len(x) - 1] for x in ids])


def _detectors(labels: np.ndarray, scores: dict[str, np.ndarray]) -> list[dict]:
    """Each detector's scores against the labels, and the majority class of these labels (the best
    constant guess, a generous baseline)."""
    rows = []
    for name, score in scores.items():
        row = {"detector": name, "auroc": auroc(labels, score)}
        if name.startswith("probe"):
            row |= scores_at_half(labels, score > 0.5)
        rows.append(row)
    flagged = np.full(len(labels), len(labels) > 0 and np.mean(labels) > 0.5)
    chance = 0.5 if len(labels) else float("nan")
    rows.append({"detector": "majority class", "auroc": chance, **scores_at_half(labels, flagged)})
    for row in rows:
        row |= {"n": len(labels), "wrong": int(np.sum(labels))}
    return rows


def mistake_probe(
    *,
    model_dir: Path,
    model_config: ModelConfig,
    probe_config: MistakeProbeConfig,
    probe_problems: Path,
    probe_params: Path,
    test_problems: Path,
    solutions: Path,
    seed: int,
    identity: dict,
    out: Path,
    scores_out: Path,
    probe_out: Path,
    threads: int = 1,
) -> None:
    """Step `mistake-probe`: the mistake probe on the trained model and on a random-init model of its
    shape, scored with the other detectors on held-out random-parameter steps and on the model's own
    steps; the table of scores, every step's scores (for ROC curves), and the trained probe (for
    decoding)."""
    torch.set_num_threads(threads)
    trained, tokenizer = load_model(model_dir)
    random_init = build_model(
        model_config, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed
    )
    problems, params = pd.read_parquet(probe_problems), pd.read_parquet(probe_params)
    tests = pd.read_parquet(test_problems)
    own = own_steps(tests, pd.read_parquet(solutions))
    own_ids, own_starts = encode(tokenizer, tests, own)
    pad = tokenizer.pad_token_id
    flags: dict[str, dict[str, np.ndarray]] = {RANDOM_PARAMETER: {}, MODEL_MISTAKES: {}}
    for name, model in (("probe", trained), ("probe, random init", random_init)):
        print(f"Mistake probe, {'trained' if name == 'probe' else 'random-init'} model:", flush=True)
        probe, steps, ids = train_probe(model, tokenizer, problems, params, probe_config, seed)
        held_out = ~steps["train"].to_numpy()
        flags[RANDOM_PARAMETER][name] = flag_probability(
            probe, [x for x, h in zip(ids, held_out, strict=True) if h], pad, probe_config.batch_size
        )
        flags[MODEL_MISTAKES][name] = flag_probability(probe, own_ids, pad, probe_config.batch_size)
        if name == "probe":
            probe_out.parent.mkdir(parents=True, exist_ok=True)
            torch.save(probe.state_dict(), probe_out)
            random_steps = steps[held_out]
    held_ids, held_starts = encode(tokenizer, problems, random_steps)
    entropy, top = uncertainty(trained, held_ids, held_starts, pad)
    flags[RANDOM_PARAMETER] |= {"entropy": entropy, "1 - top probability": top}
    entropy, top = uncertainty(trained, own_ids, own_starts, pad)
    flags[MODEL_MISTAKES] |= {"entropy": entropy, "1 - top probability": top}
    labels = {RANDOM_PARAMETER: random_steps["wrong"].to_numpy(), MODEL_MISTAKES: own["wrong"].to_numpy()}
    errors = {RANDOM_PARAMETER: "", MODEL_MISTAKES: own["error"].to_numpy()}
    rows, per_step = _score_tables(flags, labels, errors)
    scale = read_scale(model_dir)
    write_table(with_identity(rows, identity, scale), out)
    write_table(with_identity(per_step, identity, scale), scores_out)


def _score_tables(flags: dict, labels: dict, errors: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per set of steps (random-parameter, the model's own): each detector's scores against the
    labels (and the majority class), and every step's score per detector (for ROC curves)."""
    rows, per_step = [], []
    for where, scores in flags.items():
        for row in _detectors(labels[where], scores):
            rows.append({"set": where, **row})
            print(f"  {where}: {row['detector']} AUROC {row['auroc']:.3f}", flush=True)
        for detector, score in scores.items():
            columns = {"wrong": labels[where], "error": errors[where], "score": score}
            per_step.append(pd.DataFrame({"set": where, "detector": detector, **columns}))
    return pd.DataFrame(rows), pd.concat(per_step, ignore_index=True)
