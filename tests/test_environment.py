"""Settings from the environment are checked, naming the variable and what is allowed."""

import pytest

from physlm.environment import checked_compile_mode, compile_mode


def test_a_compile_mode_that_torch_has_not_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("PHYSLM_COMPILE", "fast")
    with pytest.raises(ValueError, match=r"PHYSLM_COMPILE: 'fast' is not one of .*reduce-overhead"):
        compile_mode()
    monkeypatch.setenv("PHYSLM_COMPILE", "reduce-overhead")
    assert compile_mode() == "reduce-overhead"
    monkeypatch.delenv("PHYSLM_COMPILE")
    assert compile_mode() is None


def test_an_empty_or_missing_mode_means_no_compiling():
    assert checked_compile_mode("", "--compile") is None and checked_compile_mode(None, "--compile") is None
    with pytest.raises(ValueError, match=r"--compile: 'Default' is not one of"):
        checked_compile_mode("Default", "--compile")
