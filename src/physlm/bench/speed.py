"""How fast the pipeline trains and evaluates, against this machine's own limits (`physlm bench`).

Training: for every model shape a config trains (the knowledge model, the math model, each capacity
model), the pipeline's own training loop (physlm.engine.loop.train over a packed stream of windows) is
timed, and beside it a plain-PyTorch model of the same shape (physlm.bench.reference_gpt) trained the same
way. Both become FLOP/s by one count, and a ratio to the machine's matmul peak, measured by the same
command. Evaluation: QA questions answered, and math solutions generated, per second.

FLOPs per trained token follow PaLM's appendix B: 6 x the parameters of every matrix multiply (the
output head included, the embedding lookup not), plus 12 x layers x width x context for attention.
The data are random tokens and the models untrained: speed does not depend on either, except that an
untrained model never stops generating early, so the evaluation rates are the slow case.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from physlm.bench.reference_gpt import ReferenceGPT
from physlm.config import scale_config
from physlm.engine.config_types import ModelConfig, TrainConfig
from physlm.engine.environment import checked_compile_mode
from physlm.engine.loop import Stream, make_optimizer, train
from physlm.engine.models import build_model, pick_device

PEAK_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Shape:
    """One model shape a config trains, with the batch it trains at and its vocabulary."""

    name: str
    model: ModelConfig
    batch_size: int
    vocab_size: int


def config_shapes(config: dict, knowledge_vocab: int, math_vocab: int) -> list[Shape]:
    """Every model shape `config` trains: the knowledge model, the math model, the capacity models."""
    shapes = [
        Shape("knowledge", ModelConfig(**config["model"]), config["pretrain"]["batch_size"], knowledge_vocab)
    ]
    if "math" in config:
        math = config["math"]
        shapes.append(Shape("math", ModelConfig(**math["model"]), math["training"]["batch_size"], math_vocab))
    for size in config["capacity"]["models"]:
        shape = {**config["model"], **{k: size[k] for k in ("n_layer", "n_head", "d_model")}}
        batch = config["capacity"]["training"]["batch_size"]
        shapes.append(Shape(f"capacity {size['name']}", ModelConfig(**shape), batch, knowledge_vocab))
    return shapes


def flops_per_token(model: torch.nn.Module, n_layer: int, d_model: int, context: int) -> float:
    """Training FLOPs per token (forward and backward): 6 per weight of every linear map, plus
    attention's 12 x layers x width x context (PaLM, appendix B)."""
    weights = {id(m.weight): m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear)}
    return 6 * sum(weights.values()) + 12 * n_layer * d_model * context


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int, seconds: float = 1.0) -> float:
    """FLOP/s of a square matmul of `size`, the best of repeated runs lasting `seconds` in all: the
    ceiling the training FLOP/s are compared against."""
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    best, spent = float("inf"), 0.0
    while spent < seconds or best == float("inf"):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
    return 2 * size**3 / best


def machine_peak(device: torch.device, dtype: torch.dtype) -> float:
    """The best matmul_peak over a few sizes: which size a library runs fastest differs by machine,
    and the ceiling should be the highest the machine reaches."""
    sizes = (4096, 8192, 16384) if device.type == "cuda" else (256, 1024, 2048)
    return max(matmul_peak(device, dtype, size) for size in sizes)


def _random_windows(shape: Shape, n: int, seed: int = 0) -> np.ndarray:
    """`n` windows of random token ids (above the two special ids 0 and 1)."""
    return np.random.default_rng(seed).integers(2, shape.vocab_size, size=(n, shape.model.context))


def pipeline_rate(
    shape: Shape, steps: int, warmup: int, log: Callable[[str], None], compile_mode: str | None = None
) -> tuple[float, float, float]:
    """(tokens/s, FLOPs per token, seconds of the untimed first steps) of physlm.engine.loop.train on this
    shape, over `steps` steps after `warmup` untimed ones (`steps` a multiple of `warmup`: the loop's
    own log times each block). With `compile_mode`, the first steps' seconds include compiling: the
    warm-up a compiled run must pay back."""
    model = build_model(shape.model, shape.vocab_size, eos_id=0, pad_id=1, seed=0)
    windows = _random_windows(shape, 4 * shape.batch_size)
    stream = Stream(
        [list(w) for w in windows], [[True] * len(w) for w in windows], shape.model.context, seed=0
    )
    cfg = _bench_training(shape.batch_size, warmup + steps, warmup)
    with tempfile.TemporaryDirectory() as tmp:
        rows, _ = train(
            model,
            [(stream, shape.batch_size)],
            cfg,
            Path(tmp) / "checkpoint.pt",
            log,
            compile_mode=compile_mode,
        )
    rates = rows["tokens_per_s"].to_numpy()
    first_block_s = warmup * shape.batch_size * shape.model.context / rates[0]
    timed = rates[1:]  # each row: `warmup` steps of equal tokens
    return len(timed) / np.sum(1 / timed), flops_per_token(model, *_dims(shape)), first_block_s


def _bench_training(batch_size: int, steps: int, log_every: int) -> TrainConfig:
    """Training settings for timing: no checkpoint (the loop writes none at its last step)."""
    return TrainConfig(
        batch_size=batch_size,
        lr=1e-3,
        final_lr_ratio=0.1,
        warmup_steps=1,
        weight_decay=0.1,
        checkpoint_every=steps,
        log_every=log_every,
        steps=steps,
    )


def _dims(shape: Shape) -> tuple[int, int, int]:
    return shape.model.n_layer, shape.model.d_model, shape.model.context


def reference_rate(
    shape: Shape, steps: int, warmup: int, compile_mode: str | None = None
) -> tuple[float, float, float]:
    """(tokens/s, FLOPs per token, seconds of the untimed first steps) of the plain-PyTorch model of
    this shape, trained as the pipeline trains (AdamW from physlm.engine.loop, gradient clipping, bf16
    autocast on CUDA; with `compile_mode`, its loss compiled in that torch.compile mode)."""
    device = pick_device()
    m = shape.model
    model = ReferenceGPT(shape.vocab_size, m.n_layer, m.n_head, m.d_model, m.context).to(device)
    loss_of = torch.compile(model.loss, mode=compile_mode) if compile_mode else model.loss
    optimizer = make_optimizer(model, _bench_training(shape.batch_size, warmup + steps, warmup))
    batch = torch.from_numpy(_random_windows(shape, shape.batch_size)).to(device)
    clock = time.perf_counter()
    for step in range(warmup + steps):
        if step == warmup:
            _sync(device)
            first_block_s, clock = time.perf_counter() - clock, time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = loss_of(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    loss.item()
    _sync(device)
    elapsed = time.perf_counter() - clock
    return steps * batch.numel() / elapsed, flops_per_token(model, *_dims(shape)), first_block_s


def qa_rate(shape: Shape, tokenizer, people: pd.DataFrame, questions: int, batch_size: int) -> float:
    """QA questions answered per second (greedy, batched as the evaluate step batches them)."""
    from physlm.knowledge.bios import make_qa
    from physlm.knowledge.qa import answer_questions

    model = build_model(shape.model, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed=0)
    qa = make_qa(people).head(questions)
    start = time.perf_counter()
    answer_questions(model.to(pick_device()), tokenizer, qa, batch_size)
    return len(qa) / (time.perf_counter() - start)


def solution_rate(shape: Shape, tokenizer, problems: pd.DataFrame, batch_size: int) -> tuple[float, float]:
    """(solutions, generated tokens) per second, generating as the evaluate-math step does (up to
    twice the longest reference solution, plus 8 tokens)."""
    from physlm.reasoning.igsm_sets import prompts
    from physlm.reasoning.solutions import generate

    model = build_model(shape.model, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed=0)
    reference = tokenizer([" ".join(s) for s in problems["solution"]])["input_ids"]
    texts = prompts(problems)
    start = time.perf_counter()
    ids = generate(model.to(pick_device()), tokenizer, texts, batch_size, 2 * max(map(len, reference)) + 8)
    elapsed = time.perf_counter() - start
    return len(texts) / elapsed, sum(map(len, ids)) / elapsed


def _alone(shape: Shape, steps: int, warmup: int, threads: int) -> tuple[float, float, float]:
    """pipeline_rate in a process of its own, on `threads` threads."""
    torch.set_num_threads(threads)
    return pipeline_rate(shape, steps, warmup, log=lambda line: None)


def together_rate(
    shape: Shape, steps: int, warmup: int, copies: int, threads: int
) -> tuple[float, float, float]:
    """(summed tokens/s, FLOPs per token, the slowest first steps' seconds) of `copies` processes
    training this shape at the same time, sharing `threads` CPU threads (and the GPU, if any): how the
    DAG trains many small models at once, each its own job."""
    context = multiprocessing.get_context("spawn")  # CUDA cannot be used in forked processes
    each = max(1, threads // copies)
    with ProcessPoolExecutor(copies, mp_context=context) as pool:
        runs = [pool.submit(_alone, shape, steps, warmup, each) for _ in range(copies)]
        rates = [run.result() for run in runs]
    return sum(rate[0] for rate in rates), rates[0][1], max(rate[2] for rate in rates)


def _training_runs(
    shape: Shape, steps: int, warmup: int, together: int, threads: int, compile_mode: str | None
) -> dict:
    """The implementations timed on `shape`, by name: each a function that returns its rate."""
    quiet = partial(pipeline_rate, log=lambda line: None)
    runs = {
        "pipeline": partial(quiet, shape, steps, warmup),
        "reference": partial(reference_rate, shape, steps, warmup),
    }
    if compile_mode:
        compiled = f"compiled {compile_mode}"
        runs[f"pipeline, {compiled}"] = partial(quiet, shape, steps, warmup, compile_mode=compile_mode)
        runs[f"reference, {compiled}"] = partial(reference_rate, shape, steps, warmup, compile_mode)
    if together > 1 and shape.name.startswith("capacity"):
        at_once = partial(together_rate, shape, steps, warmup, together, threads)
        runs[f"pipeline, {together} at once"] = at_once
    return runs


def training_rows(
    shapes: list[Shape],
    steps: int,
    warmup: int,
    peak: float,
    together: int,
    threads: int,
    compile_mode: str | None = None,
    repeats: int = 1,
) -> list[dict]:
    """Tokens/s, FLOP/s and share of `peak` of the pipeline and of the reference, shape by shape;
    with `together` > 1, also that many capacity models trained at once; with `compile_mode`, also
    the pipeline and the reference compiled in that mode. `vs_reference` compares like with like:
    a compiled run with the compiled reference, the others with the reference as written.

    With `repeats` > 1 every implementation of a shape is timed that many times, in rounds (each
    round times each implementation once, one after the other): a row holds the median rate, and
    `vs_reference` is the median over rounds of its rate over the reference's in the same round. A
    shared machine's speed drifts from minute to minute; rates timed minutes apart can differ by
    more than the implementations do, a ratio within one round much less."""
    rows = []
    compiled = f"compiled {compile_mode}"
    for shape in shapes:
        runs = _training_runs(shape, steps, warmup, together, threads, compile_mode)
        rounds = [{name: run() for name, run in runs.items()} for _ in range(repeats)]
        m = shape.model
        for implementation in runs:
            baseline = f"reference, {compiled}" if implementation.endswith(compiled) else "reference"
            rates = np.array([r[implementation][0] for r in rounds])
            ratios = rates / np.array([r[baseline][0] for r in rounds])
            tokens_per_s, per_token = float(np.median(rates)), rounds[0][implementation][1]
            rows.append(
                {
                    "measure": "training",
                    "shape": f"{shape.name} {m.n_layer}x{m.d_model}, {m.context} x {shape.batch_size}",
                    "implementation": implementation,
                    "unit": "tokens",
                    "per_s": tokens_per_s,
                    "vs_reference": float(np.median(ratios)),
                    "repeats": repeats,
                    "flops_per_s": tokens_per_s * per_token,
                    "peak_share": tokens_per_s * per_token / peak,
                    "warmup_s": rounds[0][implementation][2],
                }
            )
            spread = f" (rounds: {', '.join(f'{x:,.0f}' for x in rates)})" if repeats > 1 else ""
            print(
                f"{rows[-1]['shape']} {implementation}: {tokens_per_s:,.0f} tokens/s{spread}, "
                f"{rows[-1]['vs_reference']:.2f}x the {baseline}",
                flush=True,
            )
    return rows


def evaluation_rows(
    settings: dict,
    shapes: list[Shape],
    people,
    knowledge_tokenizer,
    math_tokenizer,
    questions: int,
    problems: int,
) -> list[dict]:
    """QA questions per second on the knowledge shape (`questions` of `people`), and solutions and
    generated tokens per second on the math shape (`problems` test problems of the last stage's knobs)."""
    from physlm.reasoning.igsm import Knobs
    from physlm.reasoning.igsm_sets import ProblemSet, make_set

    knowledge, math = shapes[0], shapes[1]
    qa_per_s = qa_rate(knowledge, knowledge_tokenizer, people, questions, settings["evaluate"]["batch_size"])
    test = ProblemSet("test", problems, settings["math"]["test"]["max_op"], op_distribution="each")
    table, _ = make_set(Knobs(**settings["math"]["curriculum"][-1]["knobs"]), test, seed=0)
    per_s = solution_rate(math, math_tokenizer, table, settings["math"]["evaluate"]["batch_size"])
    return [
        {
            "measure": "evaluation",
            "shape": shape.name,
            "implementation": "pipeline",
            "unit": unit,
            "per_s": rate,
        }
        for shape, unit, rate in [
            (knowledge, "QA questions", qa_per_s),
            (math, "solutions", per_s[0]),
            (math, "generated tokens", per_s[1]),
        ]
    ]


# The columns `physlm bench` prints.
SHOWN = ["measure", "shape", "implementation", "unit", "per_s", "vs_reference", "flops_per_s", "peak_share"]
SHOWN += ["warmup_s"]


def bench(
    *,
    config: Path,
    out: Path,
    steps: int,
    warmup: int,
    threads: int,
    questions: int,
    problems: int,
    together: int = 1,
    compile_mode: str | None = None,
    repeats: int = 1,
) -> None:
    """Step `bench`: the training speed of every model shape in `config`, the pipeline's loop beside
    the plain-PyTorch reference, as FLOP/s and as a share of the measured matmul peak (bf16 on a GPU,
    fp32 on a CPU); with `together` > 1, the capacity models also trained that many at once; with
    `compile_mode`, the pipeline and the reference also compiled (torch.compile mode); each timed
    `repeats` times in rounds (median rates, ratios to the reference within a round); then QA and
    math evaluation speed. Prints the table and writes it to `out`."""
    from physlm.engine.artifacts import write_table
    from physlm.engine.tokenizer import build_tokenizer
    from physlm.knowledge.bios import lexicon, make_people
    from physlm.reasoning.igsm_sets import make_tokenizer

    if steps % warmup:
        raise ValueError(f"--steps ({steps}) must be a multiple of --warmup ({warmup})")
    if repeats < 1:
        raise ValueError(f"--repeats: {repeats}, allowed >= 1")
    compile_mode = checked_compile_mode(compile_mode, "--compile")
    torch.set_num_threads(threads)
    settings = scale_config(config)
    device = pick_device()
    people = make_people(max(settings["bios"]["n_people"], questions), settings["bios"]["pools"], seed=0)
    knowledge_tokenizer, math_tokenizer = build_tokenizer(lexicon(people)), make_tokenizer()
    peaks = {name: machine_peak(device, dtype) for name, dtype in PEAK_DTYPES.items()}
    peak_dtype = "bfloat16" if device.type == "cuda" else "float32"
    print(f"{device}, {threads} threads, matmul peak: {peaks}", flush=True)
    shapes = config_shapes(settings, len(knowledge_tokenizer), len(math_tokenizer))
    rows = training_rows(shapes, steps, warmup, peaks[peak_dtype], together, threads, compile_mode, repeats)
    rows += evaluation_rows(
        settings, shapes, people, knowledge_tokenizer, math_tokenizer, questions, problems
    )
    result = pd.DataFrame(rows).assign(
        device=str(device),
        threads=threads,
        peak_dtype=peak_dtype,
        **{f"matmul_{k}_flops_per_s": v for k, v in peaks.items()},
    )
    print(result[SHOWN].to_markdown(index=False, floatfmt=",.3g"))
    write_table(result, out)
