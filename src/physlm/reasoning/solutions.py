"""Solutions: a trained math model writes them; the checker judges them (Part 2.1's accuracy).

Generation is greedy, batched and cached (Hugging Face `generate` with its KV cache); prompts of
different lengths are left-padded, with the attention mask giving every prompt positions from 0 as in
training. Accuracy is reported per op, split into in-distribution (op up to the largest trained on)
and out-of-distribution (more operations than any training problem had).

Distinct letters (a deviation from the paper, on by default): where a solution names a new variable
(the letter after "as", or after ";" where an intermediate result is named), letters it already used
are ruled out. The letter is a symbol drawn at random in training, with nothing to learn but "not
one already used"; a young model's greedy decoding collapses it onto one letter ("Define A as T ...
Define B as T"), overwriting its own first step and hiding what it planned. The paper's models, at
100K steps, learn the rule themselves. Every decoder applies it; `distinct_letters=False` measures
what it changes (the learning curves report both).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from physlm.engine.artifacts import load_model, read_scale, with_identity, write_table
from physlm.engine.models import pick_device
from physlm.reasoning.checker import check
from physlm.reasoning.igsm import LETTERS
from physlm.reasoning.igsm_sets import prompts


class DistinctLetters(LogitsProcessor):
    """Rules out, where a new variable is named (after "as" or ";"), the letters already written
    after the first `start` tokens (the prompt).

    With `grouped` (greedy decoding), the letters still allowed there count as one choice: the best
    of them scores their summed probability. A letter is a symbol with nothing to learn, so a model
    spreads its mass over twenty-odd of them; without grouping, greedy decoding compares the best
    single letter with every other token, and a token such as [BACK] at a third of the mass wins
    over letters holding the rest (retry-data models then take back every step)."""

    def __init__(self, tokenizer, start: int, grouped: bool = False):
        self.start, self.grouped = start, grouped
        vocabulary = len(tokenizer)
        self.letter = torch.zeros(vocabulary, dtype=torch.bool)
        self.letter[tokenizer.convert_tokens_to_ids([f"▁{c}" for c in LETTERS])] = True
        self.slot = torch.tensor(tokenizer.convert_tokens_to_ids(["▁as", ";"]))

    def at_slot(self, written: torch.Tensor) -> torch.Tensor:
        """(batch,): True where the next token names a new variable."""
        if written.shape[1] == 0:
            return torch.zeros(written.shape[0], dtype=torch.bool, device=written.device)
        return torch.isin(written[:, -1], self.slot.to(written.device))

    def used(self, written: torch.Tensor) -> torch.Tensor:
        """(batch, vocabulary): True for the letters each row may not write next."""
        used = torch.zeros(written.shape[0], self.letter.numel(), dtype=torch.bool, device=written.device)
        if written.shape[1] == 0:
            return used
        used.scatter_(1, written, True)
        return used & self.letter.to(written.device) & self.at_slot(written)[:, None]

    def group(self, written: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """`scores` (used letters already ruled out) with the best allowed letter scoring the
        log-sum-exp of all allowed letters, in the rows where a new variable is named."""
        letters = scores.masked_fill(~self.letter[: scores.shape[1]].to(scores.device), float("-inf"))
        rows = self.at_slot(written).nonzero().flatten()
        out = scores.clone()
        out[rows, letters[rows].argmax(-1)] = torch.logsumexp(letters[rows], -1)
        return out

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        written = input_ids[:, self.start :]
        scores = scores.masked_fill(self.used(written)[:, : scores.shape[1]], float("-inf"))
        return self.group(written, scores) if self.grouped else scores


def generate(
    model,
    tokenizer,
    prompts: list[str],
    batch_size: int,
    max_new_tokens: int,
    samples: int = 0,
    seed: int = 0,
    distinct_letters: bool = True,
) -> list[list[int]]:
    """Greedy continuations (token ids, up to and without EOS) of `prompts`, each preceded by EOS as
    every training document is, and cut at the model's context; batches are sorted by length so
    little padding is needed. With `samples` > 0: that many continuations per prompt (prompt after
    prompt) sampled at temperature 1 from the whole distribution, the draws seeded by `seed`. With
    `distinct_letters`, a new variable never takes a letter the solution already used, and greedy
    decoding weighs the letters as one choice (DistinctLetters)."""
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
                logits_processor=LogitsProcessorList(
                    [DistinctLetters(tokenizer, width, grouped=samples == 0)] if distinct_letters else []
                ),
            )
        rows = generated[:, width:].tolist()
        for n, i in enumerate(chunk):
            for j in range(per):
                row = rows[n * per + j]
                out[i * per + j] = row[: row.index(eos)] if eos in row else row
    return out


# The columns of a judged solution (judge), before its cost and identity are added.
JUDGED = ("problem", "op", "solution", "correct", "shortest", "first_error", "error", "steps")


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
    return pd.DataFrame(rows, columns=list(JUDGED))


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
    """Step `evaluate-math`: the model solves held-out problems greedily; accuracy by op, and every
    judged solution with the tokens it took (finding 3's mistakes and the greedy decoder read these)."""
    torch.set_num_threads(threads)
    model, tokenizer = load_model(model_dir, pick_device())
    table = pd.read_parquet(problems)
    reference = tokenizer([" ".join(s) for s in table["solution"]])["input_ids"]
    longest = max(map(len, reference))
    ids = generate(model, tokenizer, prompts(table), batch_size, max_new_tokens=2 * longest + 8)
    judged = judge(table, [tokenizer.decode(g, skip_special_tokens=True).strip() for g in ids])
    judged["tokens"] = [len(g) for g in ids]  # what it cost: greedy decoding reads these (decoding)
    scale = read_scale(model_dir)
    write_table(with_identity(judged, identity, scale), solutions_out)
    write_table(with_identity(accuracy_by_op(judged, train_max_op), identity, scale), out)
