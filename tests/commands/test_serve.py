"""`tui-trainer serve` driven in headless Chromium (Debian's `chromium`; .ci/run installs it where missing):
the four tabs draw and a key switches panes. The app's screen is read from the websocket frames the page
receives (xterm.js draws on a canvas, so the DOM holds no text), through the Chrome DevTools protocol."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
    "--remote-debugging-port=0",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.communicate()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def test_serve_refuses_a_port_in_use_with_exit_2(subprocess_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tui_trainer", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env=subprocess_env,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_serve_listens_on_loopback_only():
    from tui_trainer.commands import serve

    assert serve.HOST == "127.0.0.1"
    assert "-m tui_trainer.commands.serve --child" in serve.app_command()


async def _drive(devtools_port: int, url: str) -> tuple[str, str]:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{devtools_port}/json/list") as resp:
            pages = [t for t in await resp.json() if t["type"] == "page"]
        async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            ids = iter(range(1, 10_000))
            frames: list[str] = []

            async def send(method: str, **params) -> None:
                await ws.send_str(json.dumps({"id": next(ids), "method": method, "params": params}))

            async def read_until(pattern: str, timeout: float) -> str:
                deadline = asyncio.get_running_loop().time() + timeout
                while True:
                    screen = "".join(frames)
                    if re.search(pattern, screen):
                        return screen
                    left = deadline - asyncio.get_running_loop().time()
                    if left <= 0:
                        raise AssertionError(f"{pattern!r} never drawn; saw: {screen[-2000:]!r}")
                    try:
                        msg = await ws.receive(timeout=left)
                    except TimeoutError:
                        continue
                    data = json.loads(msg.data)
                    if data.get("method") == "Network.webSocketFrameReceived":
                        response = data["params"]["response"]
                        payload = response["payloadData"]
                        if response.get("opcode") == 2:
                            payload = base64.b64decode(payload).decode("utf-8", "replace")
                        frames.append(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", payload))

            await send("Network.enable")
            await send("Page.enable")
            await send("Page.navigate", url=url)
            first = await read_until(r"Environment(?s:.*)Data(?s:.*)Augment(?s:.*)Train", 60)
            frames.clear()
            for kind in ("mousePressed", "mouseReleased"):  # focus the terminal
                await send("Input.dispatchMouseEvent", type=kind, x=640, y=400, button="left", clickCount=1)
            await send("Input.dispatchKeyEvent", type="keyDown", key="4", text="4", code="Digit4")
            await send("Input.dispatchKeyEvent", type="keyUp", key="4", code="Digit4")
            after = await read_until(r"attach to a run", 30)
            return first, after


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed here (.ci/run installs it)")
def test_the_app_draws_in_headless_chromium_and_a_key_switches_panes(tmp_path, subprocess_env):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    browser = None
    try:
        _wait_listening(port, server)
        browser = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        devtools_port = None
        deadline = time.monotonic() + 30
        assert browser.stderr is not None
        while devtools_port is None and time.monotonic() < deadline:
            line = browser.stderr.readline()
            if match := re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line):
                devtools_port = int(match.group(1))
            elif not line and browser.poll() is not None:
                break
        assert devtools_port, "chromium did not start its DevTools endpoint"
        first, after = asyncio.run(_drive(devtools_port, f"http://127.0.0.1:{port}/"))
        assert "Re-run audit" in first or "Auditing" in first or "Python" in first  # the Environment pane
        assert "No run" in after  # `4` showed the Train pane's idle header
    finally:
        for proc in (browser, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
