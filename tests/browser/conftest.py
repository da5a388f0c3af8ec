"""Real servers and a real headless Chromium for end-to-end tests.

Each server starts on a free localhost port with a fresh token and is stopped
at the end, also when a test fails. Chromium is Debian's, kept off the network.
"""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "") if p and Path(p).exists()), None)
OFFLINE_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A Jupyter-family server process on localhost with a token."""

    def __init__(self, command: list[str], port: int, token: str, ready_path: str, log: Path):
        self.port, self.token = port, token
        self.url = f"http://127.0.0.1:{port}"
        self._log = open(log, "w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                        env=env, start_new_session=True)
        self._wait(f"{self.url}{ready_path}", log)

    def _wait(self, url: str, log: Path, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"server not ready after {timeout} s: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


def _jupyter(tool: str) -> str:
    return str(Path(sys.executable).with_name(tool))


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    port, token = free_port(), secrets.token_hex(16)
    command = [_jupyter("jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={ROOT}",
               "--LabApp.expose_app_in_browser=True", "--ServerApp.open_browser=False",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    server = Server(command, port, token, f"/api/status?token={token}",
                    tmp_path_factory.mktemp("lab") / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def voila_server(tmp_path_factory):
    port, token = free_port(), secrets.token_hex(16)
    command = [_jupyter("voila"), "notebooks/workbench.ipynb", "--no-browser", f"--port={port}",
               f"--token={token}", "--Voila.ip=127.0.0.1"]
    server = Server(command, port, token, f"/?token={token}", tmp_path_factory.mktemp("voila") / "server.log")
    yield server
    server.stop()


def launch(playwright, extra_args=()):
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed (setup.sh installs Debian's chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=OFFLINE_FLAGS + list(extra_args))


@pytest.fixture(scope="session")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver
