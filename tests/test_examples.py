"""The bundled examples (``audio_example/``) and the one command that makes them (``tools/make_examples.py``)."""
import dataclasses
import importlib.util

import pytest
import soundfile as sf

from workbench.paths import ROOT, examples, reference_text


@pytest.fixture(scope="module")
def maker():
    spec = importlib.util.spec_from_file_location("make_examples", ROOT / "tools" / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_clip_is_made_by_the_tool_and_has_its_reference(maker):
    clips = {clip.name: clip for clip in maker.CLIPS}
    assert set(examples()) == set(clips)
    for name, path in examples().items():
        info = sf.info(str(path))
        assert info.samplerate == (8000 if clips[name].condition == "telephone" else 16000), name
        assert 4.0 <= info.duration <= 8.0, (name, info.duration)
        assert reference_text(path) == clips[name].sentence, name


def test_no_example_sentence_is_training_or_evaluation_text(maker):
    maker.check()
    old_clean = dataclasses.replace(maker.CLIPS[0], sentence="계란 하나하고 김밥 두 개 주세요")   # a generator phrase
    with pytest.raises(ValueError, match="clean"):
        maker.check([old_clean])


@pytest.mark.parametrize("name", ["clean", "room"])
def test_the_tool_reproduces_the_bundled_clip(maker, tmp_path, name):
    index = [clip.name for clip in maker.CLIPS].index(name)
    audio, rate = maker.make(maker.CLIPS[index], index)
    maker.speech.write(tmp_path / f"{name}.wav", audio, rate)
    assert (tmp_path / f"{name}.wav").read_bytes() == examples()[name].read_bytes()
