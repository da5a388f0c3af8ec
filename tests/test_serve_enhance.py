"""``POST /v1/enhance?dry=`` on a real uvicorn: the enhanced WAV equals offline enhancement, under /v1/recognize's limits."""
import io

import httpx
import numpy as np
import pytest
import soundfile
from test_serve import CLEAN, TELEPHONE, TOKEN, Running

from workbench.audio import load_audio
from workbench.serve.app import Service
from workbench.serve.engine import Engine
from workbench.serve.limits import Limits

LSB = 1 / 32768


@pytest.fixture(scope="module")
def server(engine):
    limits = Limits(max_message_bytes=400_000, max_stream_s=9.0)  # the examples are 4-8 s long
    running = Running(Service(engine, limits, token=TOKEN))
    yield running
    running.stop()


def enhance(server, body: bytes, query: str = "", token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{server.http}/v1/enhance{query}", content=body, headers=headers, timeout=60)


def wav(answer: httpx.Response) -> np.ndarray:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "audio/wav"
    info = soundfile.info(io.BytesIO(answer.content))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    return soundfile.read(io.BytesIO(answer.content), dtype="float32")[0]


@pytest.mark.parametrize("path, dry", [(CLEAN, 0.3), (TELEPHONE, 0.0), (CLEAN, 1.0)])
def test_the_wav_is_the_offline_enhancement_at_the_asked_dry(server, engine, path, dry):
    audio = load_audio(path)  # decoded, mono, 16 kHz: what /v1/recognize hears
    expected = np.clip(engine.denoiser.enhance(audio, dry), -1, 1)
    got = wav(enhance(server, path.read_bytes(), f"?dry={dry}"))
    assert len(got) == len(audio)
    assert np.abs(got - expected).max() <= LSB  # PCM16 rounding only
    if dry == 1.0:
        assert np.abs(got - np.clip(audio, -1, 1)).max() <= LSB


def test_without_dry_the_server_default_is_used(server, engine):
    audio = load_audio(CLEAN)
    got = wav(enhance(server, CLEAN.read_bytes()))
    assert np.abs(got - np.clip(engine.denoiser.enhance(audio, engine.dry), -1, 1)).max() <= LSB


def test_the_limits_of_recognize_hold(server):
    assert enhance(server, CLEAN.read_bytes(), token=None).status_code == 401
    assert enhance(server, CLEAN.read_bytes(), token="wrong").status_code == 401
    for body, query, status, message in [
        (b"this is not audio", "", 400, "cannot decode"),
        (b"", "", 400, "empty"),
        (CLEAN.read_bytes(), "?dry=2", 400, "dry"),
        (CLEAN.read_bytes(), "?dry=abc", 400, "dry"),
        (b"x" * 500_000, "", 413, "limit"),
    ]:
        answer = enhance(server, body, query)
        assert answer.status_code == status and list(answer.json()) == ["error"], (query, answer.text)
        assert message in answer.json()["error"]
    silence = io.BytesIO()
    soundfile.write(silence, np.zeros(10 * 8000, np.int16), 8000, format="WAV", subtype="PCM_16")  # 10 s, 160 kB
    long = enhance(server, silence.getvalue())
    assert long.status_code == 413 and "limit of 9 s" in long.json()["error"]  # refused before decoding


def test_a_server_without_a_denoiser_says_so(engine):
    running = Running(Service(Engine(engine.transcriber, None, dry=0.05)))
    try:
        answer = httpx.post(f"{running.http}/v1/enhance?dry=0.5", content=CLEAN.read_bytes(), timeout=60)
        assert answer.status_code == 409 and "without a denoiser" in answer.json()["error"]
        same = httpx.post(f"{running.http}/v1/enhance?dry=1", content=CLEAN.read_bytes(), timeout=60)
        assert np.abs(wav(same) - np.clip(load_audio(CLEAN), -1, 1)).max() <= LSB
    finally:
        running.stop()
