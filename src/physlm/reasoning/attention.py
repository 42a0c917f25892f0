"""Where a math model looks when it starts its solution: planning seen in attention (beside V-probes).

Part 2.1 reads, with probes, that a model knows which parameters are necessary before it writes. A
reader also expects to see it where the model attends: when it picks its first step (the position of
"Define", the first solution token, from which the first parameter's name is predicted), how much
attention each layer puts on the statements of necessary parameters against those of unnecessary
ones (distractors). A model that plans looks at the necessary statements; a random-init model of the
same shape, the baseline, spreads its attention by position alone.

Attention is averaged over heads and reported per token of a statement (a long statement draws more
attention by length alone): `per_token` is the mean attention weight one token of a statement of
that kind receives, and `ratio` necessary / unnecessary (1: no preference).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import torch

from physlm.engine.artifacts import read_scale, with_identity, with_random_init, write_table
from physlm.engine.config_types import ModelConfig
from physlm.engine.corpus import prompt_ids
from physlm.reasoning.igsm_sets import prompt

STATEMENT = re.compile(r"The number of each (.+?) equals ")


def statement_spans(tokenizer, ids: list[int]) -> list[tuple[int, int]]:
    """(start, end) token positions of each statement in a prompt's ids, in order: a statement starts
    at "The number" and runs to the next one, or to what follows the statements ("Question", or
    "Solution" when the question came first)."""
    tokens = tokenizer.convert_ids_to_tokens(ids)
    starts = [i for i in range(len(tokens) - 1) if tokens[i] == "▁The" and tokens[i + 1] == "▁number"]
    after = next(i for i in range(starts[-1], len(tokens)) if tokens[i] in ("▁Question", "▁Solution"))
    return list(zip(starts, [*starts[1:], after], strict=True))


def attention_by_layer(model, tokenizer, problems: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    """Per problem and layer: mean attention (over heads) one token of a necessary / unnecessary
    statement receives from the position of the solution's first token ("Define")."""
    necessary = params.set_index(["problem", "name"])["nece"]
    define = tokenizer.convert_tokens_to_ids("▁Define")
    rows = []
    model.eval()
    for problem in problems.itertuples():
        read = prompt(problem.text, problem.question, problem.question_first)
        ids = [*prompt_ids(tokenizer, [read])[0], define]
        names = STATEMENT.findall(problem.text)
        spans = statement_spans(tokenizer, ids)
        if len(names) != len(spans):
            raise ValueError(f"problem {problem.problem}: {len(names)} statements but {len(spans)} spans")
        kinds = [bool(necessary[(problem.problem, name)]) for name in names]
        if all(kinds) or not any(kinds):
            continue  # nothing to compare: every statement of one kind
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), output_attentions=True, use_cache=False)
        for layer, weights in enumerate(out.attentions):
            row = weights[0, :, -1].mean(0)  # heads averaged, attention from the last position
            for kind in (True, False):
                tokens = [t for (a, b), k in zip(spans, kinds, strict=True) if k == kind for t in range(a, b)]
                rows.append(
                    {
                        "problem": problem.problem,
                        "layer": layer + 1,
                        "statements": "necessary" if kind else "unnecessary",
                        "per_token": float(row[tokens].mean()),
                    }
                )
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per layer: mean attention per token on necessary and unnecessary statements over problems,
    and their ratio."""
    wide = table.pivot_table(index=["problem", "layer"], columns="statements", values="per_token")
    wide["ratio"] = wide["necessary"] / wide["unnecessary"]
    out = wide.groupby("layer")[["necessary", "unnecessary", "ratio"]].mean().reset_index()
    out["problems"] = table["problem"].nunique()
    return out


def math_attention(
    *,
    model_dir: Path,
    model_config: ModelConfig,
    problems: Path,
    params: Path,
    count: int,
    seed: int,
    identity: dict,
    out: Path,
    threads: int = 1,
) -> None:
    """Step `math-attention`: attention on necessary vs unnecessary statements at the solution's
    start, per layer, for the trained model and a random-init model of its shape, on the first
    `count` held-out problems."""
    torch.set_num_threads(threads)
    trained, random_init, tokenizer = with_random_init(model_dir, model_config, seed)
    table, labels = pd.read_parquet(problems).head(count), pd.read_parquet(params)
    parts = []
    for name, model in (("trained", trained), ("random init", random_init)):
        model.set_attn_implementation("eager")  # SDPA returns no attention weights
        parts.append(summarize(attention_by_layer(model, tokenizer, table, labels)).assign(model=name))
    write_table(with_identity(pd.concat(parts, ignore_index=True), identity, read_scale(model_dir)), out)
