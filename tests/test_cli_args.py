"""The options and value checks every command line shares (workbench.cli_args)."""
import argparse

import pytest

from workbench import cli_args
from workbench.cli_args import (
    add_model_options,
    at_least_zero,
    dry,
    listed,
    positive,
    positive_seconds,
    sample_rate,
    seconds,
)


@pytest.mark.parametrize(("check", "good", "bad"), [
    (dry, {"0": 0.0, "0.3": 0.3, "1": 1.0}, ["-0.1", "1.01", "nan", "inf", "x", ""]),
    (seconds, {"0": 0.0, "2.5": 2.5}, ["-1", "nan", "inf", "x"]),
    (positive_seconds, {"0.1": 0.1}, ["0", "-1", "nan", "inf"]),
    (positive(int), {"1": 1, "16": 16}, ["0", "-3", "1.5", "x"]),
    (positive(float), {"1e-3": 1e-3}, ["0", "-1", "nan", "inf", "-inf"]),
    (at_least_zero, {"0": 0, "4": 4}, ["-1", "0.5", "x"]),
    (sample_rate(), {"16000": 16000, "44100": 44100}, ["999", "384001", "16000.5", "x"]),
    (sample_rate(8000, 48000), {"8000": 8000, "48000": 48000}, ["7999", "96000"]),
    (listed(dry), {"0,0.5, 1": [0.0, 0.5, 1.0]}, ["0,2", "0,x"]),
])
def test_checks_accept_good_values_and_refuse_bad_ones_with_a_reason(check, good, bad):
    for text, value in good.items():
        assert check(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            check(text)


def test_model_options_are_declared_once_with_their_defaults():
    parser = argparse.ArgumentParser()
    add_model_options(parser)
    args = parser.parse_args([])
    assert set(vars(args)) == set(cli_args.MODEL_OPTIONS)
    assert (args.lm, args.live, args.device, args.quantize) == (True, True, "cpu", False)
    args = parser.parse_args(["--lm", "none", "--live", "x.nemo", "--quantize"])
    assert (args.lm, args.live, args.quantize) == (False, "x.nemo", True)


def test_model_options_take_a_subset_and_changes():
    parser = argparse.ArgumentParser()
    add_model_options(parser, "asr", asr={"default": None})
    assert vars(parser.parse_args([])) == {"asr": None}


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan"])
def test_train_denoiser_refuses_a_dry_outside_0_to_1(value, capsys, tmp_path):
    from workbench.train.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(["denoiser", "--out", str(tmp_path), "--smoke", "--dry", value])
    assert stop.value.code == 2 and "argument --dry" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("args", "message"), [
    (["transcribe", "x.wav", "--dry", "2"], "dry must be between 0 and 1"),
    (["evaluate", "set.json", "--dry", "0,1.5"], "dry must be between 0 and 1"),
    (["transcribe", "x.wav", "--chunk-s", "0"], "expected a finite number of seconds > 0"),
    (["evaluate", "set.json", "--workers", "-1"], "expected a whole number >= 0"),
])
def test_the_workbench_command_line_refuses_bad_values_in_one_line(args, message, capsys):
    from workbench.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and message in err
