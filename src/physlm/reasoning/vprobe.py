"""Does a math model know which quantities a solution needs before it writes any? V-probing (Part 2.1).

The probe is the shared one (physlm.engine.probe.Probe: frozen model, trainable
low-rank update of the input embedding, a normalized linear head). The model reads a problem cut at
the probe position, then the query [START] A [END] (or [START] A [MID] B [END]), and the head reads
the last hidden state at [END]. Tasks, each with its own probe:

- nece(A): does the question need A? Read at the end of the question, before any solution token.
- dep(A, B): does A depend (recursively) on B? Read at the end of the problem, before the question.
- known(A), value(A) (0-22, or 23 for not yet known), can_next(A) (computable now, not yet known),
  nece_next(A) (can_next and necessary): read at every solution-sentence boundary, the start included.

A is drawn from all parameters, unnecessary ones included, at most `queries` per problem and task.
Probes train on some problems and are scored on others (split by problem), each on the trained model
and on a random-init model of the same shape, beside the majority class of the probe-train labels.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from physlm.engine.artifacts import read_scale, with_identity, with_random_init, write_table
from physlm.engine.config_types import ModelConfig, VProbeConfig
from physlm.engine.probe import fit, held_out_correct, pad_right, probe_model
from physlm.reasoning.igsm import MOD
from physlm.reasoning.igsm_sets import PROBE_MARKERS, at_position, prompt

TASKS = ("nece", "dep", "known", "value", "can_next", "nece_next")
CLASSES = {"value": MOD + 1}  # 0-22 and unknown; every other task is yes / no
TEST_EVERY = 4  # problems whose index is a multiple of this are held out from probe training


def _prefixes(tokenizer, problem: pd.Series) -> dict[str, list[list[int]]]:
    """Token ids the model reads before a query: the problem (its statements; in the qp format the
    question before them), the prompt (problem and question, up to "Solution:"), and the prompt
    followed by the first k solution sentences for k = 0..S."""
    eos = tokenizer.eos_token_id
    read = prompt(problem["text"], problem["question"], problem["question_first"])
    texts = [read.removesuffix(" Solution:") if problem["question_first"] else problem["text"], read]
    texts += [" ".join(problem["solution"][:k]) for k in range(1, len(problem["solution"]) + 1)]
    encoded = tokenizer(texts)["input_ids"]
    at_prompt = [eos, *encoded[1]]
    return {
        "problem": [[eos, *encoded[0]]],
        "prompt": [at_prompt],
        "steps": [at_prompt] + [at_prompt + steps for steps in encoded[2:]],
    }


def examples(
    tokenizer, problems: pd.DataFrame, params: pd.DataFrame, task: str, queries: int, seed: int
) -> tuple[list[list[int]], list[int], list[int]]:
    """(token ids, label, problem) per probe example of `task`, at most `queries` per problem."""
    start, mid, end = tokenizer.convert_tokens_to_ids(list(PROBE_MARKERS))
    ids, labels, owner = [], [], []
    by_problem = {k: group.sort_values("param") for k, group in params.groupby("problem", sort=False)}
    for _, problem in problems.iterrows():
        table = by_problem[problem["problem"]]
        names = tokenizer(list(table["name"]))["input_ids"]
        rng = random.Random(f"vprobe/{seed}/{task}/{problem['problem']}")
        prefixes = _prefixes(tokenizer, problem)
        n = len(table)
        if task == "dep":
            pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
            picked = rng.sample(pairs, min(queries, len(pairs)))
            dep = table["dep"].tolist()
            for a, b in picked:
                ids.append([*prefixes["problem"][0], start, *names[a], mid, *names[b], end])
                labels.append(int(table["param"].iloc[b] in set(dep[a])))
        else:
            where = prefixes["prompt"] if task == "nece" else prefixes["steps"]
            slots = [(k, a) for k in range(len(where)) for a in range(n)]
            for k, a in rng.sample(slots, min(queries, len(slots))):
                row = table.iloc[a]
                if task == "nece":
                    label = row["nece"]
                else:
                    label = at_position(row["step"], row["ready"], row["nece"], row["value"], k)[task]
                ids.append([*where[k], start, *names[a], end])
                labels.append(int(label))
        owner += [problem["problem"]] * (len(ids) - len(owner))
    return ids, labels, owner


def probe_task(
    model,
    tokenizer,
    problems: pd.DataFrame,
    params: pd.DataFrame,
    task: str,
    cfg: VProbeConfig,
    seed: int,
    log: Callable[[str], None] = print,
) -> dict:
    """Held-out accuracy of one task's probe on `model`, with the majority-class baseline."""
    ids, labels, owner = examples(tokenizer, problems, params, task, cfg.queries, seed)
    train = np.array([p % TEST_EVERY != 0 for p in owner])
    y = np.array(labels)
    read = torch.tensor([[len(x) - 1] for x in ids])
    probe = probe_model(model, cfg.rank, [CLASSES.get(task, 2)], seed)
    padded, targets = pad_right(ids, tokenizer.pad_token_id), torch.from_numpy(y[:, None])
    fit(probe, padded, read, targets, train, cfg, seed, log)
    correct = held_out_correct(probe, padded, read, targets, train, cfg.batch_size)
    majority = np.bincount(y[train]).argmax()
    return {
        "task": task,
        "accuracy": float(correct[:, 0].mean()),
        "majority": float(np.mean(y[~train] == majority)),
        "n_train": int(train.sum()),
        "n_test": int((~train).sum()),
    }


def vprobe(
    *,
    model_dir: Path,
    model_config: ModelConfig,
    vprobe_config: VProbeConfig,
    problems: Path,
    params: Path,
    seed: int,
    identity: dict,
    out: Path,
    threads: int = 1,
) -> None:
    """Step `vprobe`: every task's probe on the trained model and on a random-init model of its shape
    (`model_config`), on problems it was not trained on."""
    unknown = sorted(set(vprobe_config.tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"vprobe.tasks: {unknown} unknown, allowed {', '.join(TASKS)}")
    torch.set_num_threads(threads)
    trained, random_init, tokenizer = with_random_init(model_dir, model_config, seed)
    table, labels = pd.read_parquet(problems), pd.read_parquet(params)
    rows = []
    for name, model in (("trained", trained), ("random init", random_init)):
        for task in vprobe_config.tasks:
            print(f"V-probe {task}, {name} model:", flush=True)
            result = probe_task(model, tokenizer, table, labels, task, vprobe_config, seed)
            print(
                f"  held-out accuracy {result['accuracy']:.3f} (majority {result['majority']:.3f})",
                flush=True,
            )
            rows.append({**result, "model": name})
    write_table(with_identity(pd.DataFrame(rows), identity, read_scale(model_dir)), out)
