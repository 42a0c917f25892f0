"""The decision after each solution step: write another step, or end (issue 36's diagnosis).

A model that solves op-1 problems and writes the right first step of longer ones can still fail them
by ending after that step. After each step's period the model must decide whether the parameter it
just defined is the one the question asks (end) or not (go on); a solution is done exactly when it
is. This module measures that decision on the reference solutions, teacher-forced: at the period
of every step, the probability the model gives to the end token, split by whether the step just
written defines the asked parameter (`last`) and by what the question asks (`asked`: an abstract
parameter such as "each Boreal Forest's Creature", never stated, or a stated instance parameter).
Beside it, where the model looks from that period, per layer (heads averaged): the share of its
attention on the statements, the question, the step just written, the steps before it, and the
start token (a sink many heads park on). A random-init model of the same shape is the baseline:
it shows what position alone gives.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from physlm.engine.artifacts import read_scale, with_identity, with_random_init, write_table
from physlm.engine.config_types import ModelConfig
from physlm.reasoning.igsm_sets import prompt

PARTS = ("start token", "statements", "question", "steps before", "this step")


def _layout(tokens: list[str]) -> tuple[slice, list[int], int, list[int]]:
    """(the statements, the question's positions with "Solution:", where the solution starts, the
    solution's period positions) of a tokenized document, the question after the statements (pq)
    or before them (qp)."""
    question, solution = tokens.index("▁Question"), tokens.index("▁Solution")
    if question == 1:  # qp: the statements run from after the question's "?" to "Solution"
        after = tokens.index("?") + 1
        statements, asked = slice(after, solution), [*range(question, after), solution, solution + 1]
    else:
        statements, asked = slice(1, question), list(range(question, solution + 2))
    start = solution + 2  # after "Solution" ":"
    periods = [i for i in range(start, len(tokens)) if tokens[i] == "."]
    return statements, asked, start, periods


def _parts(statements: slice, question: list[int], solution: int, periods: list[int], k: int) -> dict:
    """The token positions attention is summed over, seen from step k's period (0-based k)."""
    this_step = periods[k - 1] + 1 if k else solution
    return {
        "start token": slice(0, 1),
        "statements": statements,
        "question": question,
        "steps before": slice(solution, this_step),
        "this step": slice(this_step, periods[k] + 1),
    }


def decisions(
    model, tokenizer, problems: pd.DataFrame, params: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(decisions, attention): one row per reference step of `problems`, with the probability of
    the end token after its period; and one row per step, layer and part of the text with the share
    of attention the period gives it."""
    asked = params[params["nece"]].sort_values("step").groupby("problem").last()["abstract"]
    eos = tokenizer.eos_token_id
    model.eval()
    steps, looks = [], []
    for problem in problems.itertuples():
        read = prompt(problem.text, problem.question, problem.question_first)
        text = f"{read} {' '.join(problem.solution)}"
        ids = [eos, *tokenizer(text)["input_ids"]]
        layout = _layout(tokenizer.convert_ids_to_tokens(ids))
        periods = layout[-1]
        if len(periods) != len(problem.solution):
            raise ValueError(
                f"problem {problem.problem}: {len(problem.solution)} steps, {len(periods)} periods"
            )
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), output_attentions=True, use_cache=False)
        p_end = out.logits[0, periods].float().softmax(-1)[:, eos]
        kind = "abstract" if asked[problem.problem] else "stated"
        for k, at in enumerate(periods):
            key = {"problem": problem.problem, "op": problem.op, "step": k + 1, "steps": len(periods)}
            key |= {"last": k == len(periods) - 1, "asked": kind}
            steps.append({**key, "p_end": float(p_end[k])})
            for layer, weights in enumerate(out.attentions):
                row = weights[0, :, at].mean(0)
                for part, span in _parts(*layout, k).items():
                    looks.append({**key, "layer": layer + 1, "part": part, "share": float(row[span].sum())})
    return pd.DataFrame(steps), pd.DataFrame(looks)


def summarize(steps: pd.DataFrame, looks: pd.DataFrame) -> pd.DataFrame:
    """Per kind of decision (`last`, `asked`, op): the mean probability of ending and the share of
    steps after which greedy decoding would end (p > 0.5); per kind of decision (`last`, `asked`) and
    layer: the mean attention share of each part. One long table: `measure` names the value."""
    by = ["last", "asked", "op"]
    decided = steps.assign(ends=steps["p_end"] > 0.5).groupby(by)
    ends = decided.agg(p_end=("p_end", "mean"), ends=("ends", "mean"), n=("p_end", "size")).reset_index()
    ends = ends.melt(id_vars=[*by, "n"], value_vars=["p_end", "ends"], var_name="measure")
    seen = looks.groupby(["last", "asked", "layer", "part"])["share"].agg(["mean", "size"]).reset_index()
    seen = seen.rename(columns={"mean": "value", "size": "n"}).assign(measure="attention")
    return pd.concat([ends, seen], ignore_index=True)


def math_decision(
    *,
    model_dir: Path,
    model_config: ModelConfig,
    problems: Path,
    params: Path,
    seed: int,
    identity: dict,
    out: Path,
    threads: int = 1,
) -> None:
    """Step `math-decision`: the decision after each reference step (end or go on) and where the
    model looks when it takes it, for the trained model and a random-init model of its shape."""
    torch.set_num_threads(threads)
    trained, random_init, tokenizer = with_random_init(model_dir, model_config, seed)
    table, labels = pd.read_parquet(problems), pd.read_parquet(params)
    parts = []
    for name, model in (("trained", trained), ("random init", random_init)):
        model.set_attn_implementation("eager")  # SDPA returns no attention weights
        parts.append(summarize(*decisions(model, tokenizer, table, labels)).assign(model=name))
    write_table(with_identity(pd.concat(parts, ignore_index=True), identity, read_scale(model_dir)), out)
