import numpy as np
import pytest
import soundfile
from models import speechlike

from workbench import AudioError, load_audio, pcm16_to_float, to_wav_bytes
from workbench.audio import check_audio, chunks
from workbench.sources import FileSource, MicrophoneSource, list_microphones


def tone(rate, seconds=1.0, freq=440.0):
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(x, rate=16000):
    spectrum = np.abs(np.fft.rfft(x))
    return np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()]


@pytest.mark.parametrize("fmt,rate", [("wav", 44100), ("flac", 22050), ("ogg", 48000), ("mp3", 44100), ("wav", 8000)])
def test_formats_and_rates_become_16k_mono(tmp_path, fmt, rate):
    stereo = np.stack([tone(rate), tone(rate)], axis=1)
    path = tmp_path / f"tone.{fmt}"
    soundfile.write(path, stereo, rate)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 16000) <= 1200  # mp3 adds encoder padding
    assert dominant_frequency(audio) == pytest.approx(440, abs=3)


def test_channels_are_averaged(tmp_path):
    left, right = tone(16000), -tone(16000)
    soundfile.write(tmp_path / "cancel.wav", np.stack([left, right], 1), 16000)
    assert np.abs(load_audio(tmp_path / "cancel.wav")).max() < 1e-4


def test_bytes_and_wav_roundtrip():
    audio = speechlike(1.0)
    again = load_audio(to_wav_bytes(audio))
    assert np.abs(again - audio).max() < 1e-4


@pytest.mark.parametrize("rate", [48000, 44100, 22050, 8000, 16000])
def test_live_resampling_of_chunks_equals_resampling_the_whole(rate):
    from workbench.resample import LiveResampler, resample

    rng = np.random.default_rng(rate)
    signal = (0.1 * rng.standard_normal(rate + 77)).astype(np.float32)
    resampler, pieces, start = LiveResampler(rate), [], 0
    while start < len(signal):
        size = int(rng.integers(1, rate // 5))
        pieces.append(resampler.feed(signal[start:start + size]))
        start += size
    pieces.append(resampler.flush())
    whole = resample(signal, rate)
    assert np.abs(np.concatenate(pieces) - whole).max() < 1e-6
    seams = np.concatenate([resample(signal[i:i + rate // 10], rate) for i in range(0, len(signal), rate // 10)])
    if rate != 16000:  # what chunk-by-chunk resampling would do instead
        assert np.abs(seams[:len(whole)] - whole[:len(seams)]).max() > 1e-2


def test_pcm16_at_other_rate():
    pcm = (tone(44100) * 32767).astype("<i2").tobytes()
    audio = pcm16_to_float(pcm, 44100)
    assert len(audio) == 16000
    assert dominant_frequency(audio) == pytest.approx(440, abs=2)
    with pytest.raises(AudioError, match="whole"):
        pcm16_to_float(b"\x00\x01\x02", 16000)


@pytest.mark.parametrize("content,message", [
    (None, "not found"), (b"", "empty"), (b"this is text, not audio\n" * 20, "cannot decode"),
])
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError, match=message):
        load_audio(path)


def test_zero_length_wav(tmp_path):
    soundfile.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(tmp_path / "zero.wav")


def test_nan_audio_rejected(tmp_path):
    soundfile.write(tmp_path / "nan.wav", np.full(100, np.nan, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(tmp_path / "nan.wav")
    with pytest.raises(AudioError, match="mono"):
        check_audio(np.zeros((2, 10)))


def test_file_source_chunks_like_a_microphone(tmp_path):
    audio = speechlike(1.05)
    soundfile.write(tmp_path / "x.wav", audio, 16000)
    source = FileSource(tmp_path / "x.wav", chunk_s=0.1)
    pieces = list(source)
    assert [len(p) for p in pieces[:-1]] == [1600] * 10 and len(pieces[-1]) == 800
    assert np.array_equal(np.concatenate(pieces), load_audio(tmp_path / "x.wav"))
    assert [len(c) for c in chunks(audio, 0.5)] == [8000, 8000, 800]


def test_stopping_a_source(tmp_path):
    soundfile.write(tmp_path / "x.wav", speechlike(1.0), 16000)
    source = FileSource(tmp_path / "x.wav", chunk_s=0.1)
    taken = []
    for chunk in source:
        taken.append(chunk)
        source.stop()
    assert len(taken) == 1


def test_microphone_missing_gives_clear_error(capfd):
    if list_microphones():
        pytest.skip("this machine has a microphone")
    with pytest.raises(Exception) as error:
        MicrophoneSource()
    assert type(error.value).__name__ == "MicrophoneUnavailable"
    assert "no microphone found" in str(error.value) and "browser" in str(error.value)
    assert capfd.readouterr().err == ""  # PortAudio's ALSA probing stays out of cells and terminals
