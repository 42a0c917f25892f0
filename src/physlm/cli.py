"""Command line: one subcommand per pipeline step. Snakemake rules call these; so can people."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import pandas as pd

from physlm import __version__


def _write_parquet(frame: pd.DataFrame, path: Path, args: argparse.Namespace) -> None:
    """Write via a temporary name so an interrupted job never leaves a plausible-looking file, with
    the file's provenance beside it."""
    from physlm.provenance import write_provenance

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    write_provenance(path, vars(args))
    tmp.replace(path)


def _with_labels(table: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Add the `--label key=value` columns that say which run a metrics table came from."""
    for label in labels:
        key, value = label.split("=", 1)
        table[key] = int(value) if value.isdigit() else value
    return table


def _with_scale(table: pd.DataFrame, model: Path) -> pd.DataFrame:
    """Add the scale of the training behind `model` (people, exposures, steps, layers) as columns,
    so that claims can set each run beside the paper's conditions."""
    from physlm.train import SCALE_FILE

    return table.assign(**json.loads((model / SCALE_FILE).read_text()))


def _biod_spec(args: argparse.Namespace):
    """The bioD knobs of `--biod`, or None for bioS."""
    from physlm.data.biod import BioD

    return BioD(**json.loads(args.biod)) if args.biod else None


def cmd_people(args: argparse.Namespace) -> None:
    from physlm.data.biod import make_biod
    from physlm.data.bios import make_people, make_qa

    bios, spec = json.loads(args.bios), _biod_spec(args)
    if spec and args.qa:
        raise SystemExit("physlm people: bioD people have no QA pairs; drop --qa or --biod")
    if spec:
        people = make_biod(bios["n_people"], bios["pools"], spec, args.seed)[0]
    else:
        people = make_people(bios["n_people"], bios["pools"], args.seed)
    _write_parquet(people, args.people, args)
    if args.qa:
        _write_parquet(make_qa(people), args.qa, args)


def cmd_biographies(args: argparse.Namespace) -> None:
    from physlm.data.biod import biod_biographies, make_strings
    from physlm.data.bios import Variant, make_biographies

    people, spec = pd.read_parquet(args.people), _biod_spec(args)
    if spec:
        variant = Variant.parse(args.variant)
        if variant.permute or variant.fullname or variant.reverse:
            raise SystemExit(
                f"physlm biographies: bioD takes --variant single or multiM, not {args.variant!r} "
                "(its sentence order is always shuffled)"
            )
        bios = biod_biographies(people, make_strings(spec, args.seed), variant.copies, args.seed)
    else:
        bios = make_biographies(people, args.variant, args.seed)
    _write_parquet(bios, args.out, args)


def cmd_tokenizer(args: argparse.Namespace) -> None:
    from physlm.data.biod import biod_lexicon
    from physlm.data.bios import lexicon
    from physlm.data.tokenizer import build_tokenizer
    from physlm.provenance import write_provenance

    people, spec = pd.read_parquet(args.people), _biod_spec(args)
    words = biod_lexicon(people, spec) if spec else lexicon(people)
    build_tokenizer(words).save_pretrained(args.out)
    write_provenance(args.out, vars(args))


def cmd_train(args: argparse.Namespace) -> None:
    import math

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from physlm.corpus import bio_documents, qa_documents
    from physlm.models import add_lora, build_model, count_parameters, pick_device
    from physlm.provenance import beside, run_fingerprint, write_provenance
    from physlm.train import SCALE_FILE, Preempted, TrainConfig, build_mixture, run_scale, train

    if not (args.bios or args.qa):
        raise SystemExit("physlm train: give --bios, --qa or both")
    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    section = json.loads(args.training)
    batch_size = section["batch_size"]
    if args.init:
        model = AutoModelForCausalLM.from_pretrained(args.init)
        context = model.config.max_position_embeddings
    else:
        model_cfg = json.loads(args.model)
        model = build_model(
            model_cfg, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, args.seed
        )
        context = model_cfg["context"]
    lora = json.loads(args.lora) if args.lora else None
    if lora:
        torch.manual_seed(args.seed)  # LoRA's A matrices start random: same seed, same adapter
        model = add_lora(model, lora["rank"], lora["embedding_rank"])
    sources, qa_people = {}, 0
    if args.bios:
        bio_table = pd.read_parquet(args.bios)
        sources["biographies"] = bio_documents(tokenizer, bio_table)
    if args.qa:
        qa = pd.read_parquet(args.qa)
        qa_train = qa[qa["split"] == "train"]
        sources["QA"] = qa_documents(tokenizer, qa_train)
        qa_people = int(qa_train["person_id"].nunique())
    mixture = build_mixture(list(sources.values()), batch_size, args.qa_ratio, context, args.seed)
    if args.epochs:  # the length follows from the corpus: this many passes over the first source
        stream, count = mixture[0]
        section = {**section, "steps": math.ceil(args.epochs * stream.per_epoch / count)}
    cfg = TrainConfig.from_config(section)
    for name, (stream, count) in zip(sources, mixture, strict=True):
        epochs = cfg.steps * count / stream.per_epoch
        print(f"{name}: {stream.per_epoch} windows per epoch, {epochs:.1f} epochs planned", flush=True)
    print(f"{count_parameters(model):,} parameters on {pick_device()}", flush=True)
    scale = run_scale(
        json.loads((args.init / SCALE_FILE).read_text()) if args.init else None,
        cfg.steps,
        model.config.num_hidden_layers,
        (*mixture[0], bio_table) if args.bios else None,
        qa_people,
    )
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    write_provenance(args.checkpoint, vars(args))
    fingerprint = run_fingerprint(
        vars(args),
        [p for p in (args.tokenizer, args.init, args.bios, args.qa) if p],
        ignore=("threads", "checkpoint", "out", "log"),
    )
    try:
        log = train(
            model,
            mixture,
            cfg,
            args.checkpoint,
            log=lambda line: print(line, flush=True),
            fingerprint=fingerprint,
        )
    except Preempted as stop:
        # 128 + signal, as a shell reports a process killed by it: the job failed and a retry resumes.
        print(f"physlm train: {stop}; rerun to resume from {args.checkpoint}", file=sys.stderr)
        raise SystemExit(128 + stop.signum) from None
    if lora:
        model = model.merge_and_unload()
    tmp = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.to("cpu").save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / SCALE_FILE).write_text(json.dumps(scale, indent=2) + "\n")
    write_provenance(tmp, vars(args))
    shutil.rmtree(args.out, ignore_errors=True)
    tmp.rename(args.out)
    _write_parquet(log.assign(version=__version__), args.log, args)
    args.checkpoint.unlink(missing_ok=True)
    beside(args.checkpoint).unlink(missing_ok=True)


def cmd_evaluate(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from physlm.evaluate import accuracy_table, answer_questions, bio_recall
    from physlm.models import pick_device

    torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model).to(pick_device())
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    scored = answer_questions(model, tokenizer, pd.read_parquet(args.qa), args.batch_size)
    recall = bio_recall(model, tokenizer, pd.read_parquet(args.bios), pd.read_parquet(args.people))
    table = _with_scale(accuracy_table(scored, recall), args.model)
    _write_parquet(_with_labels(table, args.label), args.out, args)


def cmd_task(args: argparse.Namespace) -> None:
    from physlm.data.manipulation import make_task

    table = make_task(pd.read_parquet(args.people), args.task, args.seed, args.pairs_per_person)
    _write_parquet(table, args.out, args)


def cmd_evaluate_task(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from physlm.evaluate import answer_questions, task_accuracy
    from physlm.models import pick_device

    torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model).to(pick_device())
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    scored = answer_questions(model, tokenizer, pd.read_parquet(args.task), args.batch_size)
    _write_parquet(_with_labels(_with_scale(task_accuracy(scored), args.model), args.label), args.out, args)


def cmd_probe(args: argparse.Namespace) -> None:
    """P- and Q-probe a pretrained model and, as the baseline, the same architecture at random init."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from physlm.models import build_model
    from physlm.probing import ProbeConfig, p_probe, q_probe

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    cfg = ProbeConfig.from_config(json.loads(args.probing))
    bios, people = pd.read_parquet(args.bios), pd.read_parquet(args.people)
    models = {
        "pretrained": AutoModelForCausalLM.from_pretrained(args.model),
        "random init": build_model(
            json.loads(args.arch), len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, args.seed
        ),
    }
    tables = []
    for name, model in models.items():
        for probe, table in (
            ("P", p_probe(model, tokenizer, bios, people, cfg, args.seed)),
            ("Q", q_probe(model, tokenizer, people, cfg, args.seed)),
        ):
            table = table.assign(probe=probe, model=name)
            print(f"{probe}-probe, {name}: mean held-out accuracy {table['accuracy'].mean():.3f}", flush=True)
            tables.append(table)
    table = _with_scale(pd.concat(tables, ignore_index=True), args.model)
    _write_parquet(_with_labels(table, args.label), args.out, args)


def cmd_figure_knowledge(args: argparse.Namespace) -> None:
    from physlm.plots.knowledge import plot_extraction

    plot_extraction(pd.read_parquet(args.metrics), args.out)


def cmd_capacity_bits(args: argparse.Namespace) -> None:
    """Bits of knowledge and capacity ratio of a trained model, unquantized and quantized."""
    from dataclasses import asdict

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from physlm.capacity import biod_bits, biod_measure, bios_bits, bios_value_space_bits, used_parameters
    from physlm.corpus import bio_documents
    from physlm.data.biod import make_strings
    from physlm.data.pools import make_pools
    from physlm.evaluate import biod_chunk_losses, item_losses
    from physlm.models import count_parameters
    from physlm.quantize import quantized

    torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    bios, people = pd.read_parquet(args.bios), pd.read_parquet(args.people)
    pools = json.loads(args.pools)
    used = len({t for doc in bio_documents(tokenizer, bios)[0] for t in doc})
    params = used_parameters(
        count_parameters(model), len(tokenizer), used, model.get_input_embeddings().weight.shape[1]
    )
    n_names = make_pools(pools, seed=0).n_names
    spec = _biod_spec(args)
    if spec:
        strings = make_strings(spec, args.seed)

        def measure(m):
            return biod_measure(*biod_chunk_losses(m, tokenizer, bios, people, strings), n_names, spec)

        everything = biod_bits(len(people), n_names, spec, 0.0, 0.0, 0.0)
    else:
        value_space = bios_value_space_bits(pools)

        def measure(m):
            losses = item_losses(m, tokenizer, bios, people)
            return bios_bits(
                len(people), n_names, losses["name_loss"].mean(), value_space, losses["value_loss"].mean()
            )

        everything = bios_bits(len(people), n_names, 0.0, value_space, 0.0)
    rows = []
    for scheme in args.quantization:
        bits = measure(quantized(model, scheme))
        rows.append(
            {
                "quantization": scheme,
                "parameters": params,
                "bits": bits.total,
                "data_bits": everything.total,
                **asdict(bits),
                "bits_per_parameter": bits.total / params,
            }
        )
        print(f"{scheme}: {bits.total:,.0f} bits, {bits.total / params:.3f} bits/parameter", flush=True)
    _write_parquet(_with_labels(_with_scale(pd.DataFrame(rows), args.model), args.label), args.out, args)


def cmd_figure_manipulation(args: argparse.Namespace) -> None:
    from physlm.plots.manipulation import plot_manipulation

    plot_manipulation(pd.read_parquet(args.metrics), args.out)


def cmd_figure_capacity(args: argparse.Namespace) -> None:
    from physlm.plots.capacity import plot_capacity

    plot_capacity(pd.read_parquet(args.metrics), args.out)


def cmd_figure_p_probing(args: argparse.Namespace) -> None:
    from physlm.plots.probing import plot_p_probing

    plot_p_probing(pd.read_parquet(args.probes), args.out)


def cmd_figure_q_probing(args: argparse.Namespace) -> None:
    from physlm.plots.probing import plot_q_probing

    plot_q_probing(pd.read_parquet(args.probes), pd.read_parquet(args.knowledge), args.out)


def cmd_claims(args: argparse.Namespace) -> None:
    from physlm.claims import (
        capacity_claims,
        knowledge_claims,
        manipulation_claims,
        probing_claim,
        write_claims,
    )
    from physlm.provenance import write_provenance

    thresholds = json.loads(args.thresholds)
    rows = [
        *capacity_claims(pd.read_parquet(args.capacity), thresholds["capacity"]),
        *knowledge_claims(pd.read_parquet(args.knowledge), thresholds["knowledge"]),
        *manipulation_claims(pd.read_parquet(args.manipulation), thresholds["manipulation"]),
        probing_claim(pd.read_parquet(args.probing), thresholds["probing"]),
    ]
    write_claims(rows, args.markdown, args.parquet, args.html)
    write_provenance(args.parquet, vars(args))


def cmd_bench_bios(args: argparse.Namespace) -> None:
    """Time the bioS generator at the paper's pool sizes (people, then one biography each, then QA)."""
    import time

    from physlm.data.bios import make_biographies, make_people, make_qa

    pools = {"first": 400, "middle": 400, "last": 1000, "cities": 200, "universities": 300, "majors": 100}
    start = time.perf_counter()
    people = make_people(args.n, {**pools, "companies": 263}, seed=0)
    bios = make_biographies(people, args.variant, seed=0)
    make_qa(people)
    print(f"{len(bios):,} biographies ({args.variant}) with QA in {time.perf_counter() - start:.1f} s")


def cmd_collect(args: argparse.Namespace) -> None:
    _write_parquet(pd.concat([pd.read_parquet(p) for p in args.inputs], ignore_index=True), args.out, args)


def _add_table_output(p: argparse.ArgumentParser) -> None:
    """Options of every step that computes a metrics table: threads, run labels, output path."""
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--label", action="append", default=[], help="key=value column added to the table")
    p.add_argument("--out", type=Path, required=True)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="physlm", description=__doc__)
    top.add_argument("--version", action="version", version=__version__)
    steps = top.add_subparsers(dest="step", required=True)

    biod_help = "JSON of bioD knobs (k, c, d, length, t): a bioD world instead of bioS"
    p = steps.add_parser("people", help="draw the bioS (or bioD) people and their QA pairs")
    p.add_argument("--bios", required=True, help="JSON of the config's bios section")
    p.add_argument("--biod", help=biod_help)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--people", type=Path, required=True)
    p.add_argument("--qa", type=Path, help="also write its QA pairs here")
    p.set_defaults(run=cmd_people)

    p = steps.add_parser("biographies", help="write the biographies of one bioS variant (or bioD)")
    p.add_argument("--people", type=Path, required=True)
    p.add_argument("--biod", help=biod_help)
    p.add_argument("--variant", required=True, help="single | multiM, then _permute, _fullname")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=cmd_biographies)

    p = steps.add_parser("tokenizer", help="build the word-level tokenizer of a bioS (or bioD) world")
    p.add_argument("--people", type=Path, required=True)
    p.add_argument("--biod", help=biod_help)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=cmd_tokenizer)

    p = steps.add_parser("train", help="pretrain, mix-train or fine-tune a model")
    p.add_argument("--tokenizer", type=Path, required=True)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="JSON of the config's model section: train from scratch")
    source.add_argument("--init", type=Path, help="a saved model to continue from (fine-tuning)")
    p.add_argument("--training", required=True, help="JSON of a training section of the config")
    p.add_argument("--bios", type=Path, help="biographies to train on")
    p.add_argument("--qa", type=Path, help="QA pairs; only the train split is used")
    p.add_argument("--qa-ratio", type=float, default=0.8, help="QA share of tokens when mixing")
    p.add_argument("--epochs", type=float, help="train for this many passes over --bios (overrides steps)")
    p.add_argument("--lora", help='JSON {"rank": r, "embedding_rank": e}; full training if absent')
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", type=Path, required=True, help="resumable state, kept until done")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--log", type=Path, required=True, help="Parquet of loss and tokens/s")
    p.set_defaults(run=cmd_train)

    p = steps.add_parser("evaluate", help="QA accuracy and bio recall per split and attribute")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--qa", type=Path, required=True)
    p.add_argument("--bios", type=Path, required=True, help="biographies the model was trained on")
    p.add_argument("--people", type=Path, required=True)
    p.add_argument("--batch-size", type=int, default=256)
    _add_table_output(p)
    p.set_defaults(run=cmd_evaluate)

    p = steps.add_parser("task", help="write the prompts and answers of a knowledge manipulation task")
    p.add_argument("--people", type=Path, required=True)
    p.add_argument(
        "--task",
        required=True,
        help="forward, parity[_cot], mod6[_cot], comparison[_cot], inverse_first, inverse1, inverse2, "
        "inverse_all",
    )
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--pairs-per-person", type=int, default=4, help="comparison partners per person")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=cmd_task)

    p = steps.add_parser("evaluate-task", help="held-out and QA-train accuracy on a manipulation task")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--task", type=Path, required=True, help="the task table written by `physlm task`")
    p.add_argument("--batch-size", type=int, default=256)
    _add_table_output(p)
    p.set_defaults(run=cmd_evaluate_task)

    p = steps.add_parser("probe", help="P- and Q-probe a pretrained model against its random init")
    p.add_argument("--model", type=Path, required=True, help="a pretrained model (with its tokenizer)")
    p.add_argument("--arch", required=True, help="JSON of the config's model section (random init)")
    p.add_argument("--probing", required=True, help="JSON of the config's probing section")
    p.add_argument("--bios", type=Path, required=True, help="the biographies the model was trained on")
    p.add_argument("--people", type=Path, required=True)
    p.add_argument("--seed", type=int, required=True)
    _add_table_output(p)
    p.set_defaults(run=cmd_probe)

    p = steps.add_parser("capacity-bits", help="bits of knowledge per parameter, with quantization")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--bios", type=Path, required=True, help="the biographies the model was trained on")
    p.add_argument("--people", type=Path, required=True)
    p.add_argument("--pools", required=True, help="JSON of the config's bios.pools (the value space)")
    p.add_argument("--biod", help=biod_help)
    p.add_argument("--seed", type=int, default=0, help="the bioD seed, which fixes its strings")
    p.add_argument("--quantization", nargs="+", default=["none", "int8", "int4"])
    _add_table_output(p)
    p.set_defaults(run=cmd_capacity_bits)

    p = steps.add_parser("collect", help="concatenate Parquet tables")
    p.add_argument("inputs", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=cmd_collect)

    p = steps.add_parser("bench-bios", help="time the bioS generator")
    p.add_argument("--n", type=int, default=100_000, help="number of people")
    p.add_argument("--variant", default="single")
    p.set_defaults(run=cmd_bench_bios)

    for name, function, source, what in (
        ("figure-knowledge", cmd_figure_knowledge, "--metrics", "QA accuracy per setting"),
        ("figure-manipulation", cmd_figure_manipulation, "--metrics", "manipulation accuracy per task"),
        ("figure-p-probing", cmd_figure_p_probing, "--probes", "P-probing heat maps"),
        ("figure-capacity", cmd_figure_capacity, "--metrics", "bits of knowledge vs parameters"),
    ):
        p = steps.add_parser(name, help=f"plot {what} (PDF and PNG)")
        p.add_argument(source, type=Path, required=True, help="the collected Parquet table")
        p.add_argument("--out", type=Path, nargs="+", required=True)
        p.set_defaults(run=function)

    p = steps.add_parser("figure-q-probing", help="plot Q-probing against QA accuracy (PDF and PNG)")
    p.add_argument("--probes", type=Path, required=True)
    p.add_argument("--knowledge", type=Path, required=True, help="QA metrics of the knowledge pipeline")
    p.add_argument("--out", type=Path, nargs="+", required=True)
    p.set_defaults(run=cmd_figure_q_probing)

    p = steps.add_parser("claims", help="the claims table with verdicts")
    p.add_argument("--capacity", type=Path, required=True)
    p.add_argument("--knowledge", type=Path, required=True)
    p.add_argument("--manipulation", type=Path, required=True)
    p.add_argument("--probing", type=Path, required=True)
    p.add_argument("--thresholds", required=True, help="JSON of the config's claims section")
    p.add_argument("--markdown", type=Path, required=True)
    p.add_argument("--parquet", type=Path, required=True)
    p.add_argument("--html", type=Path, help="also write the table as a web page (for the report)")
    p.set_defaults(run=cmd_claims)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
