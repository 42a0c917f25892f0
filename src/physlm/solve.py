"""A trained math model writes solutions; the checker judges them (Part 2.1's accuracy).

Generation is greedy, batched and cached (Hugging Face `generate` with its KV cache); prompts of
different lengths are left-padded, with the attention mask giving every prompt positions from 0 as in
training. Accuracy is reported per op, split into in-distribution (op up to the largest trained on)
and out-of-distribution (more operations than any training problem had).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from physlm.artifacts import load_model, read_scale, with_identity, write_table
from physlm.checker import check
from physlm.data.igsm import prompt
from physlm.models import pick_device


def generate(
    model,
    tokenizer,
    prompts: list[str],
    batch_size: int,
    max_new_tokens: int,
    samples: int = 0,
    seed: int = 0,
) -> list[list[int]]:
    """Greedy continuations (token ids, up to and without EOS) of `prompts`, each preceded by EOS as
    every training document is, and cut at the model's context; batches are sorted by length so
    little padding is needed. With `samples` > 0: that many continuations per prompt (prompt after
    prompt) sampled at temperature 1 from the whole distribution, the draws seeded by `seed`."""
    model.eval()
    context = model.config.max_position_embeddings
    device = next(model.parameters()).device
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    encoded = [[eos, *ids] for ids in tokenizer(prompts)["input_ids"]]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    per = max(1, samples)
    out: list[list[int]] = [[] for _ in range(len(encoded) * per)]
    torch.manual_seed(seed)
    for start in range(0, len(order), max(1, batch_size // per)):
        chunk = order[start : start + max(1, batch_size // per)]
        width = max(len(encoded[i]) for i in chunk)
        ids = torch.tensor([[pad] * (width - len(encoded[i])) + encoded[i] for i in chunk], device=device)
        mask = (ids != pad).long()  # prompts never hold the pad token: it marks the left padding
        with torch.no_grad():
            generated = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max(1, min(max_new_tokens, context - width)),
                do_sample=samples > 0,
                num_return_sequences=per,
                **({"temperature": 1.0, "top_k": 0, "top_p": 1.0} if samples > 0 else {}),
                eos_token_id=eos,
                pad_token_id=pad,
            )
        rows = generated[:, width:].tolist()
        for n, i in enumerate(chunk):
            for j in range(per):
                row = rows[n * per + j]
                out[i * per + j] = row[: row.index(eos)] if eos in row else row
    return out


def judge(problems: pd.DataFrame, solutions: list[str]) -> pd.DataFrame:
    """One row per problem: the solution, whether it is correct and shortest, its first wrong step and
    why (checker error kinds), how many steps it wrote."""
    rows = []
    for row, solution in zip(problems.itertuples(), solutions, strict=True):
        verdict = check(row.text, row.question, solution)
        first = verdict.first_error
        rows.append(
            {
                "problem": row.problem,
                "op": row.op,
                "solution": solution,
                "correct": verdict.correct,
                "shortest": verdict.shortest,
                "first_error": -1 if first is None else first,
                "error": "" if first is None else verdict.steps[first].error,
                "steps": len(verdict.steps),
            }
        )
    return pd.DataFrame(rows)


def accuracy_by_op(judged: pd.DataFrame, train_max_op: int) -> pd.DataFrame:
    """Accuracy and share of shortest solutions per op, marked in or out of the training distribution."""
    table = (
        judged.groupby("op")
        .agg(accuracy=("correct", "mean"), shortest=("shortest", "mean"), n=("correct", "size"))
        .reset_index()
    )
    table["in_distribution"] = table["op"] <= train_max_op
    return table


def evaluate_math(
    *,
    model_dir: Path,
    problems: Path,
    train_max_op: int,
    identity: dict,
    out: Path,
    solutions_out: Path,
    batch_size: int,
    threads: int = 1,
) -> None:
    """Step `evaluate-math`: the model solves held-out problems; accuracy by op, and every judged
    solution (finding 3's mistakes are read from these)."""
    torch.set_num_threads(threads)
    model, tokenizer = load_model(model_dir, pick_device())
    table = pd.read_parquet(problems)
    reference = tokenizer([" ".join(s) for s in table["solution"]])["input_ids"]
    prompts = [prompt(t, q) for t, q in zip(table["text"], table["question"], strict=True)]
    ids = generate(model, tokenizer, prompts, batch_size, max_new_tokens=2 * max(map(len, reference)) + 8)
    judged = judge(table, [tokenizer.decode(g, skip_special_tokens=True).strip() for g in ids])
    scale = read_scale(model_dir)
    write_table(with_identity(judged, identity, scale), solutions_out)
    write_table(with_identity(accuracy_by_op(judged, train_max_op), identity, scale), out)
