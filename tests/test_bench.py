from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from physlm.bench.reference_gpt import ReferenceGPT
from physlm.bench.speed import (
    Shape,
    bench,
    config_shapes,
    flops_per_token,
    matmul_peak,
    reference_rate,
    training_rows,
)
from physlm.engine.config_types import ModelConfig
from physlm.engine.models import build_model, count_parameters

CONFIGS = Path(__file__).resolve().parents[1] / "workflow" / "config"
SHAPE = ModelConfig(arch="llama", n_layer=2, n_head=2, d_model=16, context=32)


def test_the_reference_has_the_pipeline_models_matrices():
    pipeline = build_model(SHAPE, vocab_size=50, eos_id=0, pad_id=1, seed=0)
    reference = ReferenceGPT(50, SHAPE.n_layer, SHAPE.n_head, SHAPE.d_model, SHAPE.context)
    assert count_parameters(reference) == count_parameters(pipeline)
    assert flops_per_token(reference, 2, 16, 32) == flops_per_token(pipeline, 2, 16, 32)


def test_flops_count_each_matrix_once_and_attention_by_context():
    model = ReferenceGPT(10, n_layer=1, n_head=2, d_model=8, context=16)
    # qkv 8x24, out 8x8, gate/up 8x42, down 21x8, the head 8x10 (tied: the embedding is not counted)
    weights = 192 + 64 + 336 + 168 + 80
    assert flops_per_token(model, 1, 8, 16) == 6 * weights + 12 * 1 * 8 * 16


def test_the_reference_is_causal_and_learns():
    torch.manual_seed(0)
    model = ReferenceGPT(20, n_layer=2, n_head=2, d_model=16, context=12)
    ids = torch.randint(0, 20, (3, 12))
    changed = ids.clone()
    changed[:, 7] = (changed[:, 7] + 1) % 20
    with torch.no_grad():
        assert torch.allclose(model(ids)[:, :7], model(changed)[:, :7], atol=1e-6)
        assert not torch.allclose(model(ids)[:, 7:], model(changed)[:, 7:])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = model.loss(ids).item()
    for _ in range(30):
        optimizer.zero_grad()
        model.loss(ids).backward()
        optimizer.step()
    assert model.loss(ids).item() < first / 2


def test_every_shape_a_config_trains_is_benchmarked():
    config = yaml.safe_load((CONFIGS / "default.yaml").read_text())
    shapes = config_shapes(config, knowledge_vocab=100, math_vocab=200)
    assert [s.name for s in shapes] == ["knowledge", "math"] + [
        f"capacity {m['name']}" for m in config["capacity"]["models"]
    ]
    assert shapes[1].model == ModelConfig(**config["math"]["model"]) and shapes[1].vocab_size == 200
    assert shapes[2].model.d_model == config["capacity"]["models"][0]["d_model"]


def test_matmul_peak_and_reference_rate_are_positive():
    assert matmul_peak(torch.device("cpu"), torch.float32, 64, seconds=0.05) > 1e6
    rate, per_token, first_block_s = reference_rate(Shape("tiny", SHAPE, 2, 50), steps=2, warmup=1)
    assert rate > 0 and per_token > 0 and first_block_s > 0


def test_bench_writes_a_row_per_shape_and_implementation_and_the_evaluation_rates(tmp_path):
    out = tmp_path / "bench.parquet"
    bench(
        config=CONFIGS / "smoke.yaml",
        out=out,
        steps=2,
        warmup=1,
        threads=2,
        questions=12,
        problems=4,
        together=2,
    )
    table = pd.read_parquet(out)
    training = table[table["measure"] == "training"]
    # knowledge, math and two capacity models, by the pipeline and the reference; the capacity models
    # also two at once
    assert len(training) == 2 * 4 + 2
    assert set(training["implementation"]) == {"pipeline", "reference", "pipeline, 2 at once"}
    assert (
        training[training["implementation"] == "pipeline, 2 at once"]["shape"]
        .str.startswith("capacity")
        .all()
    )
    assert (training["peak_share"] > 0).all() and (training["flops_per_s"] > training["per_s"]).all()
    assert (training["warmup_s"] > 0).all() and (training["vs_reference"] > 0).all()
    assert (training[training["implementation"] == "reference"]["vs_reference"] == 1).all()
    evaluation = table[table["measure"] == "evaluation"].set_index("unit")["per_s"]
    assert set(evaluation.index) == {"QA questions", "solutions", "generated tokens"}
    assert (evaluation > 0).all() and evaluation["generated tokens"] > evaluation["solutions"]


def test_with_a_compile_mode_the_compiled_pipeline_is_timed_too_with_its_compile_seconds():
    tiny = Shape("tiny", SHAPE, 2, 50)
    rows = pd.DataFrame(
        training_rows([tiny], steps=2, warmup=1, peak=1e9, together=1, threads=1, compile_mode="default")
    )
    assert rows["implementation"].tolist() == [
        "pipeline",
        "reference",
        "pipeline, compiled default",
        "reference, compiled default",
    ]
    assert (rows["per_s"] > 0).all()
    compiled = rows.set_index("implementation")["warmup_s"]
    assert compiled["pipeline, compiled default"] > compiled["pipeline"]  # the first step compiles
    assert compiled["reference, compiled default"] > compiled["reference"]


def test_a_compiled_run_is_compared_with_the_compiled_reference(monkeypatch):
    from physlm.bench import speed as module

    def scripted(eager, compiled):
        def rate(shape, steps, warmup, compile_mode=None, **log):
            return (compiled if compile_mode else eager), 10.0, 0.5

        return rate

    monkeypatch.setattr(module, "pipeline_rate", scripted(100.0, 300.0))
    monkeypatch.setattr(module, "reference_rate", scripted(100.0, 200.0))
    rows = pd.DataFrame(
        training_rows(
            [Shape("tiny", SHAPE, 2, 50)],
            steps=2,
            warmup=1,
            peak=1e4,
            together=1,
            threads=1,
            compile_mode="default",
        )
    ).set_index("implementation")["vs_reference"]
    assert rows["pipeline"] == 1.0 and rows["reference, compiled default"] == 1.0
    assert rows["pipeline, compiled default"] == 1.5  # 300 / 200, not 300 / 100


def test_repeated_rounds_give_median_rates_and_same_round_ratios(monkeypatch):
    from physlm.bench import speed as module

    def scripted(rates):
        it = iter(rates)
        return lambda *args, **kwargs: (next(it), 10.0, 0.5)

    monkeypatch.setattr(module, "pipeline_rate", scripted([110.0, 180.0, 330.0]))
    monkeypatch.setattr(module, "reference_rate", scripted([100.0, 200.0, 300.0]))
    rows = pd.DataFrame(
        training_rows(
            [Shape("tiny", SHAPE, 2, 50)], steps=2, warmup=1, peak=1e4, together=1, threads=1, repeats=3
        )
    ).set_index("implementation")
    assert rows.loc["pipeline", "per_s"] == 180.0 and rows.loc["reference", "per_s"] == 200.0
    # per round 1.1, 0.9, 1.1: the median ratio, not the ratio of medians (0.9)
    assert rows.loc["pipeline", "vs_reference"] == pytest.approx(1.1)
    assert rows.loc["reference", "vs_reference"] == 1.0 and (rows["repeats"] == 3).all()
    assert rows.loc["pipeline", "peak_share"] == pytest.approx(180.0 * 10.0 / 1e4)


@pytest.mark.parametrize(
    ("steps", "compile_mode", "message"),
    [
        (5, None, "multiple of --warmup"),
        (4, "fast", "--compile: 'fast' is not one of"),
        (4, None, "--repeats: 0, allowed >= 1"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(tmp_path, steps, compile_mode, message):
    with pytest.raises(ValueError, match=message):
        bench(
            config=CONFIGS / "smoke.yaml",
            out=tmp_path / "b.parquet",
            steps=steps,
            warmup=2,
            threads=1,
            questions=1,
            problems=1,
            compile_mode=compile_mode,
            repeats=0 if "repeats" in message else 1,
        )
