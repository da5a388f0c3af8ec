"""The Voilà app as visitors meet it: time to the first transcript, a slider move, stop to final.

    python benchmarks/app_start.py [--visits 3] [--chromium PATH]

Starts ``voila notebooks/workbench.ipynb`` from the repository root, so the
repository's ``voila.json`` applies (pre-heated kernels, kernel cap, culling),
waits until its kernel pool is filled, then opens the app in headless Chromium
with a fake microphone (the ``clean`` example). The first visit warms the
server; each later visit, ``--gap`` seconds after the previous page closed,
reports seconds from opening the page to the first final on screen (visits
closer together than a kernel takes to pre-heat, 10-30 s here, use up the
pool of two and wait for a kernel to start). On the last visit it also times a dry-slider move to 1.00
(until the transcript of the new mix is done) and a browser recording of the
clean example (from Stop to the recording's transcript being done), and
reports the resident memory of each kernel.
"""
import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import soundfile
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
MIC = ROOT / "audio_example" / "clean.wav"
FIRST_FINAL = "document.querySelectorAll('.wb-transcript .wb-final-text').length > 0"
DONE = ("([source, dry]) => (document.querySelector('.wb-source .wb-status')?.innerText ?? '').startsWith(source)"
        " && (document.querySelector('.wb-transcript-dry')?.innerText ?? '').includes(`dry ${dry} · done`)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_voila(log: Path) -> tuple[subprocess.Popen, str]:
    port, token = free_port(), secrets.token_hex(16)
    command = [str(Path(sys.executable).with_name("voila")), "notebooks/workbench.ipynb", "--no-browser",
               f"--port={port}", f"--token={token}", "--Voila.ip=127.0.0.1"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    deadline = time.monotonic() + 300
    while "is filled" not in log.read_text():  # the pool's kernels ran the notebook
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"voila did not fill its pool: {log.read_text()[-2000:]}")
        time.sleep(0.5)
    return process, f"http://127.0.0.1:{port}/?token={token}"


def first_transcript(page, url: str) -> float:
    started = time.monotonic()
    page.goto(url, wait_until="commit", timeout=300_000)
    page.wait_for_function(FIRST_FINAL, timeout=300_000, polling=50)
    return time.monotonic() - started


def slider_to_one(page) -> float:
    handle = page.locator(".wb-dry .noUi-handle").bounding_box()
    track = page.locator(".wb-dry .noUi-target").bounding_box()
    y = handle["y"] + handle["height"] / 2
    page.mouse.move(handle["x"] + handle["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] + 30, y, steps=5)
    started = time.monotonic()
    page.mouse.up()
    source = page.evaluate("document.querySelector('.wb-source .wb-status').innerText.split(' · ')[0]")
    page.wait_for_function(DONE, arg=[source, "1.00"], timeout=60_000, polling=50)
    return time.monotonic() - started


def stop_to_final(page) -> float:
    button = page.locator(".wb-record-browser-button")
    button.click()
    page.wait_for_function("/Stop/.test(document.querySelector('.wb-record-browser-button').innerText)",
                           timeout=30_000)
    page.wait_for_timeout(int((soundfile.info(MIC).duration + 0.5) * 1000))
    started = time.monotonic()
    button.click()
    page.wait_for_function(DONE, arg=["browser recording", "1.00"], timeout=60_000, polling=50)
    return time.monotonic() - started


def kernels_rss_mb(server: subprocess.Popen) -> list[float]:
    children = psutil.Process(server.pid).children(recursive=True)
    return [child.memory_info().rss / 2**20 for child in children if "ipykernel" in " ".join(child.cmdline())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=3, help="visits after the warming one")
    parser.add_argument("--gap", type=float, default=15.0,
                        help="seconds between a page's close and the next visit (the pool refills meanwhile)")
    parser.add_argument("--chromium", default="/usr/lib/chromium/chromium")
    args = parser.parse_args()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / "app_start_voila.log"
    server, url = start_voila(log)
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=args.chromium, args=[
                "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={MIC}%noloop"])
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            print(f"warming visit: first transcript after {first_transcript(page, url):.2f} s")
            times = []
            for visit in range(args.visits):
                page.close(run_before_unload=True)  # as closing a tab: Voila shuts its kernel down
                time.sleep(args.gap)
                page = browser.new_page(viewport={"width": 1280, "height": 1500})
                times.append(first_transcript(page, url))
                print(f"visit {visit + 1}: first transcript after {times[-1]:.2f} s")
            print(f"first transcript on a warm server: median {statistics.median(times):.2f} s, "
                  f"max {max(times):.2f} s over {len(times)} visits")
            page.wait_for_function(DONE, arg=[page.evaluate(
                "document.querySelector('.wb-source .wb-status').innerText.split(' · ')[0]"), "0.05"],
                timeout=60_000)
            print(f"slider to 1.00 until its transcript is done: {slider_to_one(page):.2f} s")
            print(f"browser recording, Stop until its transcript is done: {stop_to_final(page):.2f} s")
            print("kernel memory (MiB):", ", ".join(f"{rss:.0f}" for rss in kernels_rss_mb(server)))
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
