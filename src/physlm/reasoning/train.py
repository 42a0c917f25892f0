"""The training step for math (Parts 2.1 and 2.2): a model trained on iGSM problems drawn while it
trains (none repeated), with learning curves on held-out problems at every checkpoint."""

from __future__ import annotations

import dataclasses

import pandas as pd
import torch

from physlm.engine.artifacts import read_scale
from physlm.engine.config_types import TrainConfig
from physlm.engine.fit import TrainingRun, start, train_and_save
from physlm.engine.models import pick_device
from physlm.engine.provenance import code_hash
from physlm.reasoning.curves import CurvesSpec, MathCurves
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import ProblemSet
from physlm.reasoning.problem_stream import FreshProblems


def math_scale(prior: dict | None, stream, training: TrainConfig, network) -> dict:
    """A math model's training in the terms of Part 2.1's conditions, summed over curriculum stages
    (a run from a saved model continues its predecessor's count)."""
    prior = prior or {"pretrain_steps": 0, "train_tokens": 0, "stages": 0}
    return {
        "train_problems": prior.get("train_problems", 0) + training.steps * training.batch_size,
        "pretrain_steps": prior["pretrain_steps"] + training.steps,
        "train_tokens": prior["train_tokens"]
        + round(training.steps * training.batch_size * stream.mean_length),
        "stages": prior["stages"] + 1,
        "n_layer": network.config.num_hidden_layers,
    }


def _math_stream(
    tokenizer, context, seed, training, knobs, problem_set, solution_only, equal_tokens, decision_weight
):
    """(stream, training): fresh problems of `problem_set`; with `equal_tokens` (retry data), the
    steps that give the tokens `training.steps` would take on the same problems without retries. On
    a GPU, worker processes (the job's threads) draw problems ahead: there the generator would be
    slower than the model; on a CPU it costs under 1% of a step."""
    workers = torch.get_num_threads() if pick_device().type == "cuda" else 0

    def stream_of(problems: ProblemSet, workers: int = 0) -> FreshProblems:
        return FreshProblems(
            tokenizer,
            knobs,
            problems,
            seed,
            context,
            training.batch_size,
            solution_only,
            workers,
            decision_weight,
        )

    first = dataclasses.replace(problem_set, problems=training.steps * training.batch_size)
    stream = stream_of(first, 0 if equal_tokens else workers)
    print(f"{stream.dropped_share:.1%} of the problems are longer than the context ({context}): dropped")
    if equal_tokens:
        clean = stream_of(dataclasses.replace(problem_set, problems=training.batch_size, retry=0.0))
        steps = max(1, round(training.steps * clean.mean_length / stream.mean_length))
        print(f"{steps} steps: the tokens of {training.steps} on the same problems without retries")
        training = dataclasses.replace(training, steps=steps)
        stream = stream_of(dataclasses.replace(problem_set, problems=steps * training.batch_size), workers)
    return stream, training


def fit_math(
    run: TrainingRun,
    *,
    knobs: Knobs,
    problem_set: ProblemSet,
    solution_only: bool = True,
    equal_tokens: bool = False,
    decision_weight: float = 1.0,
    curves: CurvesSpec | None = None,
) -> None:
    """Train a model (`run`: from scratch, or from the curriculum's previous stage) on iGSM problems
    (`knobs`, `problem_set`: drawn while training, none repeated), one problem per row, the loss on
    the solution only if `solution_only`; with `equal_tokens` (retry data), as many steps as give the
    tokens `run.training.steps` would take on the same problems without retries (Part 2.2); the
    token after each solution step's period weighs `decision_weight` in the loss. With
    `curves`, learning curves on its held-out problems at every checkpoint
    (physlm.reasoning.curves)."""
    network, tokenizer, context = start(run)
    stream, training = _math_stream(
        tokenizer,
        context,
        run.seed,
        run.training,
        knobs,
        problem_set,
        solution_only,
        equal_tokens,
        decision_weight,
    )
    evaluate = None
    if curves is not None:
        held_out = pd.read_parquet(curves.problems)
        evaluate = MathCurves(tokenizer, held_out, curves.per_op, problem_set.max_op, batch_size=64)
    settings = run.settings(
        training=training,
        knobs=knobs,
        problems=problem_set,
        solution_only=solution_only,
        equal_tokens=equal_tokens,
        decision_weight=decision_weight,
        code=code_hash(__name__),
    )
    train_and_save(
        run,
        network=network,
        tokenizer=tokenizer,
        mixture=[(stream, training.batch_size)],
        sources={"problems": None},
        training=training,
        settings=settings,
        inputs=run.inputs(curves.problems if curves else None),
        scale=math_scale(read_scale(run.init_dir) if run.init_dir else None, stream, training, network),
        evaluate=evaluate,
        evaluations_out=curves.out if curves else None,
        evaluation_identity=curves.identity if curves else None,
    )
