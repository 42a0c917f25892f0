import os

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PHYSLM_DEVICE", "cpu")

SMALL_POOLS = {
    "first": 20,
    "middle": 20,
    "last": 30,
    "cities": 12,
    "universities": 10,
    "majors": 8,
    "companies": 9,
}


@pytest.fixture(scope="session")
def people() -> pd.DataFrame:
    from physlm.knowledge.bios import make_people

    return make_people(200, SMALL_POOLS, seed=3)


@pytest.fixture(scope="session")
def tokenizer(people):
    from physlm.engine.tokenizer import build_tokenizer
    from physlm.knowledge.bios import lexicon

    return build_tokenizer(lexicon(people))


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    from physlm.engine.config_types import ModelConfig
    from physlm.engine.models import build_model

    cfg = ModelConfig(arch="llama", n_layer=1, n_head=2, d_model=16, context=256)
    return build_model(cfg, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed=0)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The whole smoke-scale DAG, run once in a copy of the workflow and shared by the tests that
    read its outputs (they must not change them)."""
    from smk import copy_workflow, snakemake

    workdir = copy_workflow(tmp_path_factory.mktemp("smoke"))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


@pytest.fixture(scope="session")
def slurm_run(tmp_path_factory):
    """The knowledge half of the smoke-scale DAG (smk.SECOND_RUN) through profiles/slurm on
    a real one-node cluster on this machine, once; skips, saying why, where no cluster can start.
    Returns (workdir, the run)."""
    from smk import SECOND_RUN, SLURM, copy_workflow, snakemake, start_cluster

    reason = start_cluster()
    if reason:
        pytest.skip(reason)
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm"))
    return workdir, snakemake(workdir, *SLURM, *SECOND_RUN, cores=None)


@pytest.fixture
def no_kv_cache(monkeypatch):
    """Fails a test whose forward passes fill transformers' KV cache: only generation needs one;
    training, scoring and probing would build it and throw it away at every step."""
    from transformers.cache_utils import DynamicCache

    def refuse(*args, **kwargs):
        raise AssertionError("a forward pass filled a KV cache")

    monkeypatch.setattr(DynamicCache, "update", refuse)
