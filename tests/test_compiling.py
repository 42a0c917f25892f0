"""Compile where it pays: the choice from timed steps, and what a training logs about it."""

import pytest
import torch

from physlm.engine import compiling
from physlm.engine.compiling import TRIAL_STEPS, CompileChoice


def _choice(steps_left: int, mode="auto"):
    said = []
    return CompileChoice(torch.nn.Linear(2, 2), mode, steps_left, said.append), said


def _trial(choice, first: float, typical: float) -> None:
    for seconds in [first] + [typical] * TRIAL_STEPS:
        choice._timed(seconds)


def test_a_run_too_short_to_repay_compiling_stays_eager_without_trying():
    choice, said = _choice(steps_left=1_000)
    _trial(choice, first=1.0, typical=0.2)  # 979 steps left x 0.2 s = 196 s < 5 x 60 s
    assert choice.forward is choice.model and choice.phase == "chosen"
    assert said == [
        "compile: not tried: eager 200.0 ms/step, and the 979 steps left (196 s) could not repay "
        "compiling (about 60 s)"
    ]


def _paired(choice, first: float, pairs: list[tuple[float, float]]) -> None:
    for seconds in [first] + [t for pair in pairs for t in pair]:
        choice._timed(seconds)


@pytest.mark.parametrize(
    ("compiled", "kept", "verdict"),
    [(0.16, True, "1.25x"), (0.195, False, "1.03x"), (0.25, False, "0.80x")],
)
def test_a_long_run_times_both_in_turn_and_keeps_compiled_only_if_clearly_faster(compiled, kept, verdict):
    choice, said = _choice(steps_left=10_000)
    _trial(choice, first=1.0, typical=0.2)  # 9,979 x 0.2 s = 1,996 s: worth a try
    assert isinstance(choice.forward, torch._dynamo.eval_frame.OptimizedModule)
    assert choice.phase == "paired trial" and choice.compiled is None and said == []
    _paired(choice, first=45.0, pairs=[(0.2, compiled)] * TRIAL_STEPS)
    assert choice.compiled == kept and (choice.forward is not choice.model) == kept
    ending = "compiled from here" if kept else "eager from here (under 1.05x)"  # 1.03x is noise
    assert said == [
        f"compile: {TRIAL_STEPS} steps each way, in turn: eager 200.0 ms/step, compiled "
        f"{1e3 * compiled:.1f} ms/step (median ratio {verdict}; the first compiled step took 45 s): {ending}"
    ]


def test_a_load_that_changes_during_the_trial_is_not_read_as_a_compile_effect():
    """The machine gets twice as busy when the compiled steps start: each compiled step is 0.8 of
    the eager step beside it, though slower than the eager trial's 0.2 s."""
    choice, said = _choice(steps_left=10_000)
    _trial(choice, first=1.0, typical=0.2)
    _paired(choice, first=45.0, pairs=[(0.4, 0.32)] * TRIAL_STEPS)
    assert choice.compiled is True and "median ratio 1.25x" in said[0]
    # and the other way: a machine that gets idle as compiling starts does not favour compiling
    choice, said = _choice(steps_left=10_000)
    _trial(choice, first=1.0, typical=0.4)
    _paired(choice, first=45.0, pairs=[(0.2, 0.25)] * TRIAL_STEPS)
    assert choice.compiled is False and "median ratio 0.80x" in said[0]


def test_the_paired_trial_compiles_first_then_alternates_eager_and_compiled():
    choice, _ = _choice(steps_left=10_000)
    _trial(choice, first=1.0, typical=0.2)
    compiled = choice.forward
    ran = []
    for _ in range(1 + 2 * TRIAL_STEPS):
        choice.step(lambda forward: ran.append(forward) or (1,))
    assert ran == [compiled] + [choice.model, compiled] * TRIAL_STEPS
    assert choice.phase == "chosen"


def test_a_resumed_run_keeps_the_choice_made_before_without_timing_again():
    for chosen in (True, False):
        said = []
        choice = CompileChoice(torch.nn.Linear(2, 2), "auto", 10_000, said.append, chosen=chosen)
        assert choice.compiled is chosen and choice.phase == "chosen"
        assert said == [f"compile: {'compiled' if chosen else 'eager'}, as chosen before the resume"]


def test_a_compile_that_fails_falls_back_to_eager_and_runs_the_step_again():
    choice, said = _choice(steps_left=10_000)
    _trial(choice, first=1.0, typical=0.2)
    ran = []

    def step(forward):
        if forward is not choice.model:
            raise RuntimeError("no C++ compiler")
        ran.append(forward)
        return ("loss",)

    assert choice.step(step) == ("loss",) and ran == [choice.model]
    assert choice.forward is choice.model and said == [
        "compile: failed (RuntimeError: no C++ compiler); eager from here"
    ]
    with pytest.raises(ValueError):  # an error of the step itself is not the compiler's: it is raised
        choice.step(lambda forward: (_ for _ in ()).throw(ValueError("bad batch")))


def test_a_named_mode_compiles_from_the_start_and_none_never_times():
    compiled, said = _choice(steps_left=10, mode="default")
    assert compiled.forward is not compiled.model and said == ["compile: default, as PHYSLM_COMPILE says"]
    eager, said = _choice(steps_left=10, mode=None)
    for _ in range(TRIAL_STEPS + 1):
        eager.step(lambda forward: (1,))
    assert eager.times == [] and eager.forward is eager.model and said == []


def test_a_training_says_what_it_chose(people, tmp_path, monkeypatch):
    from test_train import TINY_MODEL, _config

    from physlm.engine.corpus import bio_documents
    from physlm.engine.loop import Stream, train
    from physlm.engine.models import build_model
    from physlm.engine.tokenizer import build_tokenizer
    from physlm.knowledge.bios import lexicon, make_biographies

    monkeypatch.setattr(compiling, "TRIAL_STEPS", 2)
    tokenizer = build_tokenizer(lexicon(people))
    docs, masks = bio_documents(tokenizer, make_biographies(people.head(10), "single", seed=0))
    model = build_model(TINY_MODEL, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed=0)
    said = []
    cfg = _config(steps=5, log_every=5)
    train(
        model,
        [(Stream(docs, masks, 32, seed=0), 4)],
        cfg,
        tmp_path / "c.pt",
        log=said.append,
        compile_mode="auto",
    )
    assert [line.split(":")[0] for line in said if line.startswith("compile")] == ["compile"]
    assert any(line.startswith("compile: not tried: eager") for line in said)
