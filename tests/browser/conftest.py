"""Real servers and a real headless Chromium for the end-to-end tests.

Each server starts on a free localhost port with a fresh token and stops at
the end of the session, also when a test fails. Chromium is Debian's, kept
off the network by its flags.
"""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OFFLINE_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def chromium_path() -> str | None:
    candidates = ("/usr/lib/chromium/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
    return next((path for path in candidates if path and Path(path).exists()), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A Jupyter-family server on localhost with a token, in its own process group."""

    def __init__(self, command: list[str], port: int, token: str, ready_path: str, log: Path):
        self.port, self.token, self.log = port, token, log
        self.url = f"http://127.0.0.1:{port}"
        self._log = open(log, "w")  # noqa: SIM115 - closed by stop(), it outlives this call
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        try:
            self._wait(f"{self.url}{ready_path}")
        except Exception:
            self.stop()
            raise

    def _wait(self, url: str, timeout: float = 180) -> None:
        """Until ``url`` answers (any HTTP answer but a server error)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=10):
                    return
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    return
                time.sleep(0.5)
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"server not ready after {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def tool(name: str) -> str:
    """A console script of this environment (jupyter, voila)."""
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    port, token = free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("lab")
    news = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')
    documents = home / "settings" / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings"
    documents.parent.mkdir(parents=True)
    documents.write_text('{"autosave": false}')  # the notebooks the tests run stay as committed
    command = [tool("jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={ROOT}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               f"--LabApp.workspaces_dir={home / 'workspaces'}", f"--LabApp.user_settings_dir={home / 'settings'}"]
    server = Server(command, port, token, f"/api/status?token={token}", home / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def voila_server(tmp_path_factory):
    port, token = free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("voila")
    command = [tool("voila"), "notebooks/workbench.ipynb", "--no-browser", f"--port={port}",
               f"--token={token}", "--Voila.ip=127.0.0.1"]
    server = Server(command, port, token, "/voila/static/", home / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def page(playwright, request):
    """A fresh headless Chromium page; indirect parametrization adds Chromium flags."""
    executable = chromium_path()
    if executable is None:
        pytest.fail("Chromium is not installed (setup.sh installs Debian's chromium)")
    browser = playwright.chromium.launch(executable_path=executable,
                                         args=OFFLINE_FLAGS + list(getattr(request, "param", ())))
    context = browser.new_context(viewport={"width": 1280, "height": 1500})
    page = context.new_page()
    messages = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    yield page
    if request.node.stash.get(FAILED, False):
        print("browser console:", *messages[-40:], sep="\n  ")
    context.close()
    browser.close()


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture
def screenshot(request, tmp_path):
    """Save a screenshot of ``locator`` as NAME.png (in --screenshots DIR when given)."""
    folder = request.config.getoption("--screenshots")
    folder = tmp_path if folder is None else request.config.rootpath / folder

    def save(locator, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        locator.screenshot(path=str(folder / f"{name}.png"))
    return save
