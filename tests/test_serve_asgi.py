"""The service as an ordinary ASGI app: settings (flags and WORKBENCH_* variables), the factory and its
lifespan, /metrics, /openapi.json and /docs behind the token, ?live= per stream, and
``uvicorn --factory workbench.serve:create_app`` answering as ``python -m workbench serve`` does."""
import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from test_serve import CLEAN, TELEPHONE, TOKEN, Running, closed_with, finals_text, free_port, pcm16, stream
from test_serve_process import ServerProcess

from workbench.__main__ import _parser, main
from workbench.errors import WorkbenchError
from workbench.serve import create_app
from workbench.serve.app import Service
from workbench.serve.limits import Limits
from workbench.serve.settings import Listen, Settings, add_arguments, env_name, from_args, options

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": f"Bearer {TOKEN}"}


# -- settings --------------------------------------------------------------------
def parsed(argv: list[str], environ: dict) -> tuple[Settings, Listen]:
    parser = argparse.ArgumentParser()
    add_arguments(parser, Listen, environ)
    add_arguments(parser, Settings, environ)
    args = parser.parse_args(argv)
    return from_args(Settings, args), from_args(Listen, args)


def test_every_setting_is_a_flag_and_a_variable_and_the_flag_wins():
    environ = {"WORKBENCH_MAX_STREAMS": "3", "WORKBENCH_TOKEN": "from-env", "WORKBENCH_LIVE": "none",
               "WORKBENCH_QUANTIZE": "yes", "WORKBENCH_DRY": "0.5", "WORKBENCH_PORT": "9001"}
    from_env = Settings.from_env(environ)
    assert (from_env.limits.max_streams, from_env.token, from_env.live, from_env.quantize, from_env.dry) == \
        (3, "from-env", False, True, 0.5)
    assert from_env.limits.max_message_bytes == Limits().max_message_bytes  # unset: the default
    assert parsed([], environ) == (from_env, Listen(port=9001))
    settings, listen = parsed(["--max-streams", "2", "--token", "flag", "--live", "auto", "--no-quantize",
                               "--port", "9002"], environ)
    assert (settings.limits.max_streams, settings.token, settings.live, settings.quantize, listen.port) == \
        (2, "flag", True, False, 9002)
    assert parsed([], {}) == (Settings(), Listen())
    names = [spec.name for spec in options(Settings)] + [spec.name for spec in options(Listen)]
    assert "ping_timeout_s" in names and "ssl_keyfile" in names and len(names) == len(set(names))
    documented = (ROOT / "docs" / "service.md").read_text()
    for spec in list(options(Settings)) + list(options(Listen)):  # --x-y <-> WORKBENCH_X_Y, in the docs' table
        assert env_name(spec) == "WORKBENCH_" + spec.name.upper()
        assert f"| `--{spec.name.replace('_', '-')}` | `{env_name(spec)}` |" in documented, spec.name


@pytest.mark.parametrize("variable, value, message", [
    ("WORKBENCH_MAX_STREAMS", "0", "must be positive"),
    ("WORKBENCH_SAMPLE_RATE", "4000", "between 8000 and 48000"),
    ("WORKBENCH_DRY", "2", "between 0 and 1"),
    ("WORKBENCH_QUANTIZE", "maybe", "expected 1/true/yes/on"),
    ("WORKBENCH_IDLE_TIMEOUT_S", "soon", "expected a number"),
    ("WORKBENCH_MAX_QUEUED_S", "inf", "finite"),
])
def test_a_bad_variable_is_named_in_one_message(variable, value, message):
    with pytest.raises(WorkbenchError, match=re.escape(variable)) as error:
        Settings.from_env({variable: value})
    assert message in str(error.value)


def test_the_command_refuses_a_bad_variable_in_one_line_and_other_commands_ignore_it(capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_STREAMS", "-1")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == "error: WORKBENCH_MAX_STREAMS='-1': must be positive\n"
    assert main(["serve", "--max-streams", "2", "--host", "0.0.0.0"]) == 2  # the flag wins: no complaint about it
    assert "refusing to serve 0.0.0.0" in capsys.readouterr().err
    assert _parser().parse_args(["enhance", "in.wav", "out.wav"]).command == "enhance"  # not its variable


def test_the_command_refuses_a_model_that_does_not_load_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "workbench", "serve", "--asr", str(tmp_path / "none.nemo"),
                           "--port", str(free_port())], check=False, cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2
    assert "error: ASR model not found" in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


# -- the factory and its lifespan ---------------------------------------------------
def inference_threads() -> int:
    return sum(thread.name.startswith("workbench-inference") for thread in threading.enumerate())


def test_the_lifespan_loads_the_models_and_shuts_the_threads_down():
    before = inference_threads()
    app = create_app(Settings(dry=1.0, token=TOKEN))
    with TestClient(app) as client:
        answer = client.post("/recognize", json={"data": [0] * 1600}, headers=AUTH)
        assert answer.status_code == 200 and answer.json()["duration_s"] == 0.1
        assert inference_threads() > before
        assert client.get("/v1/models", headers=AUTH).json()["dry"] == 1.0
    assert inference_threads() == before


# -- metrics, schema, docs behind the token; ?live= ------------------------------------
@pytest.fixture(scope="module")
def guarded(engine):
    running = Running(Service(engine, Limits(max_message_bytes=1 << 20, max_streams=2), token=TOKEN))
    yield running
    running.stop()


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json", "/docs", "/healthz", "/v1/models"])
def test_metrics_schema_and_docs_need_the_token(guarded, path):
    assert httpx.get(guarded.http + path).status_code == 401
    assert httpx.get(guarded.http + path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(guarded.http + path, headers=AUTH).status_code == 200


def test_the_docs_page_takes_the_token_in_its_address_and_describes_both_websockets(guarded):
    assert httpx.get(f"{guarded.http}/docs?token=wrong").status_code == 401
    page = httpx.get(f"{guarded.http}/docs?token={TOKEN}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for text in ("/v1/stream?sample_rate", "/recognize?sample_rate", '{"event": "end"}', '{"state": 0|1',
                 "1008", "1009", "1013", "/static/docs.js"):
        assert text in page.text, text
    assert httpx.get(f"{guarded.http}/openapi.json?token={TOKEN}").status_code == 401  # only the page
    script = httpx.get(f"{guarded.http}/static/docs.js")  # the page's script, public as the page's own
    assert script.status_code == 200 and "/openapi.json" in script.text


def test_the_schema_lists_the_post_routes(guarded):
    schema = httpx.get(f"{guarded.http}/openapi.json", headers=AUTH).json()
    assert schema["openapi"].startswith("3.")
    for path in ("/recognize", "/v1/recognize", "/v1/enhance"):
        operation = schema["paths"][path]["post"]
        assert operation["summary"] and "200" in {str(code) for code in operation["responses"]}
    assert {parameter["name"] for parameter in schema["paths"]["/v1/recognize"]["post"]["parameters"]} == \
        {"format", "dry", "lm", "live"}
    assert "get" in schema["paths"]["/metrics"] and "/" not in schema["paths"]


def metric(text: str, name: str, **labels) -> float:
    """The value of sample ``name{labels}`` in Prometheus text (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if wanted else ''} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_streams_audio_rtf_lag_and_refusals(guarded):
    before = httpx.get(f"{guarded.http}/metrics", headers=AUTH).text
    data, rate = pcm16(CLEAN)
    events, close = stream(guarded.ws, data, rate, f"&dry=1&token={TOKEN}")
    assert close == 1000 and finals_text(events)
    assert closed_with(f"{guarded.ws}/v1/stream", lambda ws: None)[0] == 1008  # no token
    assert httpx.post(f"{guarded.http}/recognize", content=b"{", headers=AUTH).status_code == 400
    too_big = b"\x00" * ((1 << 20) + 2)  # over max_message_bytes: uvicorn's protocol closes it 1009
    assert closed_with(f"{guarded.ws}/v1/stream?token={TOKEN}", lambda ws: ws.send(too_big))[0] == 1009
    counted = [("workbench_real_time_factor_count", {}), ("workbench_refusals_total", {"reason": "too_large"})]
    for _ in range(100):  # counted once the stream has ended, which may be after the client saw its close
        answer = httpx.get(f"{guarded.http}/metrics", headers=AUTH)
        text = answer.text
        if all(metric(text, name, **labels) > metric(before, name, **labels) for name, labels in counted):
            break
        time.sleep(0.1)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    def grew(name, **labels) -> float:
        return metric(text, name, **labels) - metric(before, name, **labels)

    assert grew("workbench_audio_seconds_total") == pytest.approx(len(data) / rate, abs=0.01)
    assert grew("workbench_real_time_factor_count") == 1  # the refused ones carried no audio
    assert grew("workbench_refusals_total", reason="unauthorized") == grew("workbench_refusals_total", reason="invalid") \
        == grew("workbench_refusals_total", reason="too_large") == 1
    finals = sum(event["final"] for event in events)
    assert grew("workbench_text_lag_seconds_count", event="final") == finals
    assert grew("workbench_text_lag_seconds_count", event="partial") == len(events) - finals
    assert 0 < grew("workbench_text_lag_seconds_sum", event="final") < 30 * finals
    assert metric(text, "workbench_active_streams") == 0


def test_each_app_counts_for_itself(engine):
    first, second = Service(engine), Service(engine)
    first.metrics.refusals.labels("busy").inc()
    assert metric(first.metrics.text().decode(), "workbench_refusals_total", reason="busy") == 1
    assert metric(second.metrics.text().decode(), "workbench_refusals_total", reason="busy") == 0


@pytest.fixture(scope="module")
def cli_live_none():
    """Finals' text of ``python -m workbench transcribe --json PATH --dry 1 --live none``."""
    def text(path) -> str:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(["transcribe", str(path), "--json", "--dry", "1", "--live", "none"]) == 0
        return finals_text([json.loads(line) for line in out.getvalue().splitlines()])
    return text


def test_live_none_streams_and_recognises_with_the_model_alone(guarded, cli_live_none):
    data, rate = pcm16(TELEPHONE)
    expected = cli_live_none(TELEPHONE)
    events, close = stream(guarded.ws, data, rate, f"&dry=1&live=none&token={TOKEN}")
    assert close == 1000 and finals_text(events) == expected != ""
    answer = httpx.post(f"{guarded.http}/v1/recognize?dry=1&live=none", content=TELEPHONE.read_bytes(),
                        headers=AUTH, timeout=60)
    assert answer.json()["text"] == expected
    live = httpx.post(f"{guarded.http}/v1/recognize?dry=1&live=auto", content=TELEPHONE.read_bytes(),
                      headers=AUTH, timeout=60)
    assert live.json() == httpx.post(f"{guarded.http}/v1/recognize?dry=1", content=TELEPHONE.read_bytes(),
                                     headers=AUTH, timeout=60).json()


@pytest.mark.parametrize("path", ["/v1/stream", "/recognize"])
def test_an_unknown_live_closes_1008(guarded, path):
    code, reason = closed_with(f"{guarded.ws}{path}?live=/srv/other.nemo&token={TOKEN}", lambda ws: None)
    assert code == 1008 and "live must be auto or none" in reason


@pytest.mark.parametrize("path", ["/recognize", "/v1/recognize"])
def test_an_unknown_live_gets_400(guarded, path):
    answer = httpx.post(f"{guarded.http}{path}?live=fast", content=b'{"data": [1]}', headers=AUTH)
    assert answer.status_code == 400 and "live must be auto or none, got 'fast'" in answer.json()["error"]


# -- uvicorn --factory answers as python -m workbench serve -------------------------------
def answers(server: ServerProcess) -> dict:
    """What the server answers to the same requests."""
    data, rate = pcm16(TELEPHONE)
    events, close = stream(server.ws, data, rate, f"&token={TOKEN}")  # partials depend on timing, finals not
    return {
        "healthz": httpx.get(f"{server.http}/healthz", headers=AUTH).json(),
        "models": httpx.get(f"{server.http}/v1/models", headers=AUTH).json(),
        "no token": httpx.get(f"{server.http}/v1/models").json(),
        "file": httpx.post(f"{server.http}/v1/recognize", content=CLEAN.read_bytes(), headers=AUTH, timeout=60).json(),
        "srt": httpx.post(f"{server.http}/v1/recognize?format=srt&live=none", content=CLEAN.read_bytes(),
                          headers=AUTH, timeout=60).text,
        "json": httpx.post(f"{server.http}/recognize", json={"sample_rate": rate, "data": data.tolist()},
                           headers=AUTH, timeout=60).json(),
        "stream": ([event for event in events if event["final"]], close),
        "bad live": closed_with(f"{server.ws}/v1/stream?live=x&token={TOKEN}", lambda ws: None),
        "schema": httpx.get(f"{server.http}/openapi.json", headers=AUTH).json(),
        "page": httpx.get(f"{server.http}/").text,
    }


def test_uvicorn_factory_answers_as_the_command(tmp_path):
    """The same settings, once as flags of ``python -m workbench serve``, once as WORKBENCH_* variables
    of ``uvicorn --factory workbench.serve:create_app`` with the flags docs/service.md gives."""
    command_port, uvicorn_port = free_port(), free_port()
    command = ServerProcess([sys.executable, "-m", "workbench", "serve", "--port", str(command_port), "--token", TOKEN,
                       "--max-streams", "3", "--dry", "0.1"], command_port, tmp_path / "command.log", {})
    factory = ServerProcess([sys.executable, "-m", "uvicorn", "--factory", "workbench.serve:create_app",
                       "--host", "127.0.0.1", "--port", str(uvicorn_port),
                       "--ws", "workbench.serve.keepalive:PatientWebSocketProtocol",
                       "--ws-max-size", str(Limits().max_message_bytes), "--ws-max-queue", "4", "--no-access-log"],
                      uvicorn_port, tmp_path / "uvicorn.log",
                      {"WORKBENCH_TOKEN": TOKEN, "WORKBENCH_MAX_STREAMS": "3", "WORKBENCH_DRY": "0.1"})
    try:
        command.wait()
        factory.wait()
        expected, got = answers(command), answers(factory)
    finally:
        command.stop()
        factory.stop()
    assert expected["healthz"] == {"status": "ok", "streams": 0, "max_streams": 3} and expected["models"]["dry"] == 0.1
    assert expected["file"]["text"] and expected["stream"][1] == 1000 and expected["bad live"][0] == 1008
    for key in expected:
        assert got[key] == expected[key], key
    for log in (command.log, factory.log):  # both log one line per request or stream
        assert re.search(r"WS /v1/stream 1000 .* audio \S+ s at 8000 Hz", log.read_text()), log.read_text()[-2000:]


class BrokenEngine:
    """An engine whose models fail: what a bug inside the service looks like to its clients."""

    dry, sample_rate = 1.0, 16000

    def with_live(self, live_mode: bool):
        return self

    async def run(self, job, *args):
        return job(*args)

    def describe(self):
        raise RuntimeError("broken")

    def stream(self, dry: float, use_lm: bool):
        raise RuntimeError("broken")


def test_an_internal_error_is_one_500_or_close_1011_and_one_log_line(caplog):
    service = Service(BrokenEngine())
    with TestClient(service.app(), raise_server_exceptions=False) as client, caplog.at_level("INFO", "workbench.serve"):
        answer = client.get("/v1/models")
        assert answer.status_code == 500 and answer.json() == {"error": "internal error"}
        with client.websocket_connect("/v1/stream") as ws:
            closed = ws.receive()
        assert closed == {"type": "websocket.close", "code": 1011, "reason": "internal error"}
    lines = [record.getMessage() for record in caplog.records if record.name == "workbench.serve"]
    assert any(re.search(r"GET /v1/models 500 .* error: RuntimeError$", line) for line in lines), lines
    assert any(re.search(r"WS /v1/stream 1011 .* error: RuntimeError$", line) for line in lines), lines
    assert service.slots.active == 0


def test_a_client_that_has_its_answer_finds_its_slot_free(engine):
    """One slot: each answer (a response, a close) frees it before the client sees it, so the same
    client's next request is never refused as busy."""
    running = Running(Service(engine, Limits(max_streams=1)))
    try:
        for _ in range(10):
            answer = httpx.post(f"{running.http}/recognize?dry=1", json={"data": [0] * 1600}, timeout=30)
            assert answer.status_code == 200, answer.text
            assert closed_with(f"{running.ws}/v1/stream?dry=1", lambda ws: ws.send('{"event": "end"}')) == (1000, "")
            assert closed_with(f"{running.ws}/recognize", lambda ws: ws.send("{")) == (1007, "malformed JSON")
    finally:
        running.stop()
