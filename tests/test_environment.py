"""Settings from the environment are checked, naming the variable and what is allowed."""

import pytest

from physlm.engine.environment import checked_compile_mode, compile_mode


def test_a_compile_mode_that_torch_has_not_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("PHYSLM_COMPILE", "fast")
    with pytest.raises(ValueError, match=r"PHYSLM_COMPILE: 'fast' is not one of .*reduce-overhead"):
        compile_mode()
    monkeypatch.setenv("PHYSLM_COMPILE", "reduce-overhead")
    assert compile_mode() == "reduce-overhead"
    monkeypatch.delenv("PHYSLM_COMPILE")
    assert compile_mode() == "auto"  # unset: each training times both and keeps the faster
    for eager in ("none", ""):
        monkeypatch.setenv("PHYSLM_COMPILE", eager)
        assert compile_mode() is None


def test_an_empty_or_missing_mode_means_no_compiling():
    assert checked_compile_mode("", "--compile") is None and checked_compile_mode(None, "--compile") is None
    with pytest.raises(ValueError, match=r"--compile: 'Default' is not one of"):
        checked_compile_mode("Default", "--compile")


def _job(locks, n_gpus: int = 2):
    """A process that claims a GPU (twice: it must keep the first) and holds it until stdin closes."""
    import subprocess
    import sys

    code = (
        "import sys; from physlm.engine.environment import claim_gpu; "
        f"first = claim_gpu({n_gpus}, sys.argv[1]); second = claim_gpu({n_gpus}, sys.argv[1]); "
        "print(first, second, flush=True); sys.stdin.read()"
    )
    job = subprocess.Popen(
        [sys.executable, "-c", code, str(locks)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    first, second = map(int, job.stdout.readline().split())
    assert first == second
    return job, first


def test_jobs_on_one_node_spread_over_its_gpus_and_a_finished_job_frees_its_gpu(tmp_path):
    jobs = [_job(tmp_path) for _ in range(3)]
    assert [gpu for _, gpu in jobs] == [0, 1, 0]  # one per GPU before any GPU gets a second
    jobs[1][0].kill()  # the job on GPU 1 ends (killed: the system drops its lock)
    jobs[1][0].wait()
    fourth = _job(tmp_path)
    assert fourth[1] == 1
    for job, _ in [*jobs, fourth]:
        job.kill()
        job.wait()


def test_a_device_other_than_cpu_or_cuda_is_refused_naming_the_variable(monkeypatch):
    from physlm.engine.environment import check_environment, device_name

    monkeypatch.setenv("PHYSLM_DEVICE", "tpu")
    with pytest.raises(ValueError, match=r"PHYSLM_DEVICE: 'tpu' is not one of \('cpu', 'cuda'\)"):
        check_environment()
    monkeypatch.setenv("PHYSLM_DEVICE", "cpu")
    assert device_name() == "cpu"
    monkeypatch.setenv("PHYSLM_DEVICE", "")
    assert device_name() is None


def test_cuda_asked_for_where_torch_sees_none_is_refused_in_one_line(monkeypatch):
    import torch

    from physlm.engine.models import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("PHYSLM_DEVICE", "cuda")
    with pytest.raises(ValueError, match="PHYSLM_DEVICE: 'cuda', but torch sees no CUDA device here"):
        pick_device()
    monkeypatch.delenv("PHYSLM_DEVICE")
    assert pick_device().type == "cpu"
