"""Decoding that listens to the model: sample better with its own signals (beyond Part 2.2).

Four ways to write a solution, each judged by the checker on the same held-out problems, each with
what it cost (tokens generated per problem, discarded ones included):

Every decoder writes distinct letters: where a new variable is named, a letter the solution already
used is ruled out (physlm.reasoning.solutions, a deviation from the paper).

- greedy: the most likely token, always: what `evaluate-math` does, so its judged solutions are read,
  not written again.
- best of k: k solutions sampled at temperature 1; the answer most of them give wins (ties: the
  earliest sample's), and that sample is judged. It needs no signal but the samples themselves.
- probe retry ("retry upon regret", Part 2.2): greedy, but after each step's "Define A as" the mistake
  probe reads the hidden state; when it says the step is wrong, the step start is sampled again (up to
  `retries` times) and the start the probe likes best is kept.
- entropy retry: the same, gated by the model's own uncertainty while it wrote A's name (mean
  next-token entropy above `entropy_threshold`, ln 2 by default: at least two names in play).

Greedy and best of k are batched over problems (Hugging Face `generate`, KV cache); the retry
decoders write one problem at a time over a KV cache they crop to step back. Every draw is seeded by
`seed` (and the problem, for the retry decoders), so a strategy's output is a function of its inputs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import DynamicCache

from physlm.engine.artifacts import load_model, read_scale, with_identity, write_table
from physlm.engine.config_types import DecodingConfig, MistakeProbeConfig
from physlm.engine.probe import probe_model
from physlm.reasoning.igsm_sets import prompts
from physlm.reasoning.solutions import JUDGED, DistinctLetters, generate, judge

GREEDY, BEST_OF, PROBE_RETRY, ENTROPY_RETRY = "greedy", "best of {k}", "probe retry", "entropy retry"


@dataclass
class Written:
    """A solution's token ids and how many tokens were generated for it, discarded ones too (EOS is
    not counted)."""

    ids: list[int]
    spent: int


class Writer:
    """One problem's solution written token by token over a KV cache that can step back."""

    def __init__(self, model, tokenizer, prompt_ids: list[int], max_new: int, generator: torch.Generator):
        self.model, self.generator = model, generator
        self.eos = tokenizer.eos_token_id
        self.define, self.as_, self.period = tokenizer.convert_tokens_to_ids(["▁Define", "▁as", "."])
        self.letters = DistinctLetters(tokenizer, start=len(prompt_ids))
        self.ids = list(prompt_ids)
        self.limit = min(len(prompt_ids) + max_new, model.config.max_position_embeddings)
        self.prompt_length, self.spent = len(prompt_ids), 0
        self.cache = DynamicCache()
        self.logits = self.feed(self.ids)

    def feed(self, ids: list[int]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        with torch.no_grad():
            out = self.model(torch.tensor([ids], device=device), cache=self.cache, use_cache=True)
        return out.logits[0, -1].float()

    def back_to(self, length: int, logits: torch.Tensor) -> None:
        """Forget everything after the first `length` tokens (whose last logits are `logits`)."""
        cached = self.cache.get_seq_length()  # the last token written is not fed when it ended the text
        if cached > length:
            self.cache.crop(length - cached)  # a negative count: tokens to drop from the end
        del self.ids[length:]
        self.logits = logits

    def emit(self, sample: bool) -> tuple[int, float]:
        """Write one token (greedy or sampled; never a letter the solution already used where a new
        variable is named, and greedy weighs the letters as one choice: physlm.reasoning.solutions);
        return it and the entropy of the model's distribution there."""
        written = torch.tensor([self.ids[self.letters.start :]])
        scores = self.logits.masked_fill(self.letters.used(written)[0].to(self.logits.device), float("-inf"))
        p = scores.softmax(-1)
        entropy = float(-(p * p.clamp_min(1e-12).log()).sum())
        if sample:
            token = int(torch.multinomial(p.cpu(), 1, generator=self.generator))
        else:  # greedy: the letters still allowed weigh as one choice (physlm.reasoning.solutions)
            token = int(self.letters.group(written.to(scores.device), scores[None])[0].argmax())
        self.ids.append(token)
        self.spent += token != self.eos
        if token != self.eos and len(self.ids) < self.limit:
            self.logits = self.feed([token])
        return token, entropy

    @property
    def done(self) -> bool:
        return self.ids[-1] == self.eos or len(self.ids) >= self.limit

    def until(self, stop: int, sample: bool) -> list[float]:
        """Write up to and including `stop` (or the end); the entropies the tokens were drawn from."""
        entropies = []
        while not self.done:
            token, entropy = self.emit(sample)
            entropies.append(entropy)
            if token == stop:
                break
        return entropies

    def solution(self) -> list[int]:
        out = self.ids[self.prompt_length :]
        return out[: out.index(self.eos)] if self.eos in out else out


def gated(
    writer: Writer, score: Callable[[list[int], list[float]], float], threshold: float, retries: int
) -> Written:
    """Write step by step; after each step start ("Define A as") `score` it (from the ids so far and
    the entropies A's name was drawn from); above `threshold` the start is sampled again, up to
    `retries` times, and the lowest-scored start is kept. The rest of each step is greedy."""
    while not writer.done:
        start, logits = len(writer.ids), writer.logits
        tried: list[tuple[float, list[int]]] = []
        for attempt in range(retries + 1):
            if attempt:
                writer.back_to(start, logits)
            entropies = writer.until(writer.as_, sample=attempt > 0)
            if writer.ids[-1] != writer.as_:  # it ended (EOS, or the length limit) before a step start
                if attempt == 0:
                    break  # the solution is over
                continue
            # entropies[0] drew "Define" and the last one drew "as": the name's lie between
            tried.append((score(writer.ids, entropies[1:-1]), writer.ids[start:]))
            if tried[-1][0] <= threshold:
                break
        if not tried:
            break
        best = min(tried, key=lambda t: t[0])[1]
        if writer.ids[start:] != best:
            writer.back_to(start, logits)
            writer.ids += best
            writer.logits = writer.feed(best)
        writer.until(writer.period, sample=False)
    return Written(writer.solution(), writer.spent)


def claimed_answer(question: str, solution: str) -> int | None:
    """The number a solution gives for the question's parameter (the last one its defining sentence
    ends with), right or wrong; None if it never defines it."""
    m = re.fullmatch(r"How many (.+) does (.+) have\?", question.strip())
    if not m:
        return None
    name = re.escape(f"{m[2]}'s {m[1]}")
    found = re.findall(rf"Define {name} as [A-Za-z];[^.]*?(\d+)\.", solution)
    return int(found[-1]) if found else None


def majority_vote(question: str, texts: list[str]) -> int:
    """Index of the sample whose answer most samples give (ties and no answers: the earliest)."""
    answers = [claimed_answer(question, t) for t in texts]
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return 0
    top = max(counts.values())
    return next(i for i, a in enumerate(answers) if a is not None and counts[a] == top)


def probe_scorer(model, probe_path: Path, probe_config: MistakeProbeConfig, seed: int):
    """score(ids, entropies) = the mistake probe's probability that the step just started is wrong."""
    probe = probe_model(model, probe_config.rank, [2], seed)
    probe.load_state_dict(torch.load(probe_path, weights_only=True))
    probe.eval()
    device = probe.embedding.device

    def score(ids: list[int], entropies: list[float]) -> float:
        with torch.no_grad():
            (logits,) = probe(
                torch.tensor([ids], device=device), torch.tensor([[len(ids) - 1]], device=device)
            )
        return float(logits.softmax(-1)[0, 1])

    return score


def entropy_scorer(ids: list[int], entropies: list[float]) -> float:
    """score(ids, entropies) = mean entropy while the model wrote the parameter's name."""
    return float(np.mean(entropies)) if entropies else 0.0


def decode(
    model,
    tokenizer,
    problems: pd.DataFrame,
    strategy: str,
    cfg: DecodingConfig,
    seed: int,
    score=None,
    k: int = 1,
) -> pd.DataFrame:
    """Every problem solved by one strategy: its judged solution and the tokens it generated. Best of
    k draws `k` samples per problem once and answers best of j, for each j of the config's samples,
    from the first j of them (a prefix serves every smaller j: no draws spent twice)."""
    texts = prompts(problems)
    if strategy in (GREEDY, BEST_OF):  # batched over problems (and samples)
        samples = 0 if strategy == GREEDY else k
        ids = generate(model, tokenizer, texts, cfg.batch_size, cfg.max_new_tokens, samples, seed)
        written = [[Written(x, len(x)) for x in ids[i * k : (i + 1) * k]] for i in range(len(texts))]
        if strategy == BEST_OF:  # best of each k of the config from the first k of these draws
            parts = [_judged(tokenizer, problems, [w[:j] for w in written], strategy, j) for j in cfg.samples]
            return pd.concat(parts, ignore_index=True)
    else:  # step by step, one problem at a time
        threshold = 0.5 if strategy == PROBE_RETRY else cfg.entropy_threshold
        written = []
        for index, (problem, text) in enumerate(zip(problems.itertuples(), texts, strict=True)):
            ids = [tokenizer.eos_token_id, *tokenizer(text)["input_ids"]]
            generator = torch.Generator().manual_seed(seed * 1_000_003 + int(problem.problem))
            writer = Writer(model, tokenizer, ids, cfg.max_new_tokens, generator)
            written.append([gated(writer, score, threshold, cfg.retries)])
            if (index + 1) % 50 == 0:
                print(f"  {strategy}: {index + 1}/{len(problems)} problems", flush=True)
    return _judged(tokenizer, problems, written, strategy, k)


def _judged(tokenizer, problems: pd.DataFrame, written: list[list], strategy: str, k: int) -> pd.DataFrame:
    """Each problem's answer by majority over its samples, judged, with the tokens they cost."""
    texts = []
    for problem, samples in zip(problems.itertuples(), written, strict=True):
        decoded = [tokenizer.decode(w.ids, skip_special_tokens=True).strip() for w in samples]
        texts.append(decoded[majority_vote(problem.question, decoded)])
    judged = judge(problems, texts)
    judged["tokens"] = [sum(w.spent for w in samples) for samples in written]
    judged["strategy"] = strategy.format(k=k)
    judged["k"] = k
    return judged


def decoded_problems(problems: pd.DataFrame, per_op: int | None) -> pd.DataFrame:
    """The test problems every strategy decodes: the first `per_op` of each op count (all if None)."""
    if per_op is None:
        return problems
    return problems.groupby("op", sort=False).head(per_op).reset_index(drop=True)


DECODERS = ("greedy", "best_of", "probe_retry", "entropy_retry")


def evaluated_greedy(solutions: pd.DataFrame, problems: pd.DataFrame) -> pd.DataFrame:
    """Greedy decoding of `problems` as the evaluate step wrote it (`solutions`: its judged table,
    which holds what each solution cost): the same batched greedy generation, read instead of run
    twice. Its length limit is the evaluate step's (twice the longest reference solution, plus 8
    tokens), not the decoding config's `max_new_tokens`."""
    missing = set(problems["problem"]) - set(solutions["problem"])
    if missing:
        raise ValueError(f"--greedy-solutions: no solution of {len(missing)} of the decoded problems")
    judged = solutions.set_index("problem").loc[problems["problem"]].reset_index()
    return judged[[*JUDGED, "tokens"]].assign(strategy=GREEDY, k=1)


def decode_with(
    *,
    decoder: str,
    model_dir: Path,
    decoding_config: DecodingConfig,
    problems: Path,
    seed: int,
    identity: dict,
    out: Path,
    solutions_out: Path,
    probe_config: MistakeProbeConfig | None = None,
    probe: Path | None = None,
    greedy_solutions: Path | None = None,
    threads: int = 1,
) -> None:
    """Step `decode`: one decoder (best_of: every k of the config) on the held-out problems; accuracy
    and tokens per problem per strategy, and every judged solution. One job per decoder, so that
    the slow retry decoders run beside the others, and only probe retry waits for the mistake probe.
    Greedy reads the evaluate step's judged solutions of the same model (`greedy_solutions`).
    Every draw is seeded per strategy, so the results do not depend on which jobs ran."""
    if decoder not in DECODERS:
        raise ValueError(f"--decoder: {decoder!r} is not one of {list(DECODERS)}")
    if decoder == "probe_retry" and (probe is None or probe_config is None):
        raise ValueError("--decoder probe_retry needs --probe and --probe-config (the mistake probe)")
    if decoder == "greedy" and greedy_solutions is None:
        raise ValueError("--decoder greedy reads the evaluate step's solutions: --greedy-solutions")
    torch.set_num_threads(threads)
    table = decoded_problems(pd.read_parquet(problems), decoding_config.problems_per_op)
    if decoder == "greedy":
        solutions = evaluated_greedy(pd.read_parquet(greedy_solutions), table)
    else:
        model, tokenizer = load_model(model_dir)
        strategy, score, k = {
            "best_of": lambda: (BEST_OF, None, max(decoding_config.samples)),
            "probe_retry": lambda: (PROBE_RETRY, probe_scorer(model, probe, probe_config, seed), 1),
            "entropy_retry": lambda: (ENTROPY_RETRY, entropy_scorer, 1),
        }[decoder]()
        print(f"Decoding: {strategy.format(k=k)}", flush=True)
        solutions = decode(model, tokenizer, table, strategy, decoding_config, seed, score, k)
    for name, rows in solutions.groupby("strategy", sort=False):
        accuracy, tokens = rows["correct"].mean(), rows["tokens"].mean()
        print(f"  {name}: accuracy {accuracy:.3f}, {tokens:.1f} tokens per problem", flush=True)
    summary = (
        solutions.groupby(["strategy", "k"], sort=False)
        .agg(accuracy=("correct", "mean"), tokens=("tokens", "mean"), n=("correct", "size"))
        .reset_index()
    )
    scale = read_scale(model_dir)
    write_table(with_identity(solutions, identity, scale), solutions_out)
    write_table(with_identity(summary, identity, scale), out)
