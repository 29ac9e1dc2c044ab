"""A minimal Chrome DevTools Protocol client for the browser tests, standard library only.

`launch` starts a headless Chromium in its own process group and `devtools_port` waits for its
DevTools port; `Browser.new_page` opens a tab, and `Page` speaks CDP to it over a small
hand-written WebSocket (RFC 6455), keeping what a visitor would call a broken page: console
errors, uncaught exceptions, failed loads, and JavaScript dialogs (each one dismissed at once:
a dialog on these sites means a payload ran).

Every wait is for a condition, with a deadline that only a broken browser reaches: on a loaded
machine (CI, other test runs) a page can take many times its usual second to draw.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


class CDPError(Exception):
    """The browser could not start, refused a command, or did not answer in time."""


# --- the browser process -----------------------------------------------------------------------


def launch(executable: str, profile: Path) -> subprocess.Popen:
    """Headless Chromium on a free DevTools port; its (noisy) stderr goes to `chromium.log` beside
    the profile. A new session, so that the fixture can stop the whole process group."""
    command = [
        executable, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
        f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
        "--hide-scrollbars", "--mute-audio", "about:blank",
    ]
    with open(profile.parent / "chromium.log", "wb") as log:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)


def devtools_port(process: subprocess.Popen, profile: Path, timeout: float = 120) -> int:
    """The port Chromium writes to `DevToolsActivePort` in its profile once it listens."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CDPError(f"chromium exited with code {process.returncode}: {_log_tail(profile)}")
        lines = port_file.read_text().splitlines() if port_file.is_file() else []
        if lines and lines[0].isdigit():
            return int(lines[0])
        time.sleep(0.05)  # polling a file Chromium writes once
    raise CDPError(f"chromium wrote no DevTools port within {timeout:.0f} s: {_log_tail(profile)}")


def _log_tail(profile: Path) -> str:
    log = profile.parent / "chromium.log"
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    return " | ".join(line for line in lines[-5:] if "dbus" not in line) or "(no output)"


class Browser:
    """The DevTools HTTP endpoint of a running Chromium."""

    def __init__(self, port: int) -> None:
        self.port = port

    def new_page(self) -> Page:
        """A new tab, with the page, runtime and log domains enabled."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=30) as response:
            target = json.load(response)
        page = Page(WebSocket(target["webSocketDebuggerUrl"]))
        for domain in ("Page", "Runtime", "Log"):
            page.send(f"{domain}.enable")
        return page


# --- a page ------------------------------------------------------------------------------------


class Page:
    """One tab: commands answered in order, events recorded as they arrive."""

    def __init__(self, socket_: WebSocket) -> None:
        self.socket = socket_
        self.last_id = 0
        self.problems: list[str] = []  # console errors, exceptions, failed loads since `navigate`
        self.dialogs: list[str] = []  # messages of the dialogs opened (and dismissed) since `navigate`
        self.loads = 0  # Page.loadEventFired seen

    def send(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its answer, handling the events that arrive meanwhile."""
        command_id = self._post(method, params)
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline - time.monotonic())
            if message is None:
                raise CDPError(f"{method}: no answer within {timeout:.0f} s")
            if message.get("id") == command_id:
                if "error" in message:
                    raise CDPError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})

    def navigate(self, url: str, timeout: float = 60) -> None:
        """Open `url` and wait for its load event; forget the previous page's problems."""
        self.problems, self.dialogs = [], []
        loads = self.loads
        result = self.send("Page.navigate", timeout, url=url)
        if result.get("errorText"):
            raise CDPError(f"{url}: {result['errorText']}")
        if "loaderId" not in result:
            return  # same document: only the fragment changed
        deadline = time.monotonic() + timeout
        while self.loads == loads:
            if self._receive(deadline - time.monotonic()) is None:
                raise CDPError(f"{url}: no load event within {timeout:.0f} s")

    def evaluate(self, expression: str, timeout: float = 60) -> Any:
        """The value of a JavaScript expression (promises awaited); a thrown error raises."""
        result = self.send("Runtime.evaluate", timeout, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details
            raise CDPError(f"{expression[:80]!r}: {thrown}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> bool:
        """Poll `expression` until it is truthy; False if it is not within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            if self.evaluate(expression):
                return True
            if time.monotonic() >= deadline:
                return False
            self._receive(0.05)  # handle events between polls instead of sleeping

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the first element matching `selector`."""
        box = self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        for event in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=event, x=box["x"], y=box["y"], button="left",
                      clickCount=1)

    def set_viewport(self, width: int, height: int) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def screenshot(self, path: Path, max_height: int = 3000) -> None:
        """A PNG of the page from the top, as tall as its content (up to `max_height` pixels)."""
        size = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        clip = {"x": 0, "y": 0, "width": size[0], "height": min(size[1], max_height), "scale": 1}
        result = self.send("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(result["data"]))

    def _post(self, method: str, params: dict[str, Any]) -> int:
        self.last_id += 1
        self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        return self.last_id

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        """The next message (events are recorded on the way), or None after `timeout` seconds."""
        text = self.socket.receive(max(timeout, 0.001))
        if text is None:
            return None
        message = json.loads(text)
        if "method" in message:
            self._record(message["method"], message.get("params", {}))
        return message

    def _record(self, event: str, params: dict[str, Any]) -> None:
        if event == "Page.loadEventFired":
            self.loads += 1
        elif event == "Page.javascriptDialogOpening":
            self.dialogs.append(f"{params.get('type')}: {params.get('message')}")
            self._post("Page.handleJavaScriptDialog", {"accept": False})  # the page is blocked until then
        elif event == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = [arg.get("value", arg.get("description", "")) for arg in params.get("args", [])]
            self.problems.append("console error: " + " ".join(map(str, args)))
        elif event == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.problems.append(f"exception at {details.get('url')}:{details.get('lineNumber')}: {text}")
        elif event == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            self.problems.append(f"{entry.get('source')} error: {entry.get('text')} {entry.get('url', '')}")


# --- the WebSocket -----------------------------------------------------------------------------


class WebSocket:
    """A client WebSocket: masked text frames out; text messages in, fragments joined, pings answered."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        self.buffer = bytearray()
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        while b"\r\n\r\n" not in self.buffer:
            self._fill(time.monotonic() + timeout)
        head, _, rest = bytes(self.buffer).partition(b"\r\n\r\n")
        self.buffer = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        fields = (line.partition(":") for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in fields}
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        if lines[0].split()[1:2] != ["101"] or headers.get("sec-websocket-accept") != accept:
            raise CDPError(f"{url}: WebSocket handshake refused: {lines[0]}")

    def send(self, text: str) -> None:
        self._send_frame(TEXT, text.encode())

    def receive(self, timeout: float) -> str | None:
        """The next whole text message, or None if none is complete within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        message = bytearray()
        while True:
            frame = self._frame(deadline)
            if frame is None:
                if message:  # a message half received: keep waiting for the rest of it
                    deadline = time.monotonic() + 30
                    continue
                return None
            fin, opcode, data = frame
            if opcode == PING:
                self._send_frame(PONG, data)
            elif opcode == CLOSE:
                raise CDPError("the browser closed the DevTools connection")
            elif opcode in (TEXT, BINARY, CONTINUATION):
                message += data
                if fin:
                    return message.decode()

    def _frame(self, deadline: float) -> tuple[bool, int, bytes] | None:
        """One whole frame off the buffer; nothing is consumed until all of it has arrived."""
        while True:
            header = _frame_header(self.buffer)
            if header is not None and len(self.buffer) >= header[0] + header[1]:
                break
            if not self._fill(deadline):
                return None
        offset, length, mask = header
        first = self.buffer[0]
        data = bytes(self.buffer[offset:offset + length])
        del self.buffer[:offset + length]
        return bool(first & 0x80), first & 0x0F, _masked(data, mask) if mask else data

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except TimeoutError:
            return False
        if not chunk:
            raise CDPError("the DevTools connection was closed")
        self.buffer += chunk
        return True

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        mask = os.urandom(4)  # client frames are always masked (RFC 6455 §5.3)
        self.sock.sendall(header + mask + _masked(payload, mask))


def _frame_header(buffer: bytearray) -> tuple[int, int, bytes | None] | None:
    """(header length, payload length, mask) of the frame at the start of `buffer`, or None
    if the header itself has not all arrived."""
    if len(buffer) < 2:
        return None
    masked, length = buffer[1] & 0x80, buffer[1] & 0x7F
    extra = {126: 2, 127: 8}.get(length, 0)
    header_length = 2 + extra + (4 if masked else 0)
    if len(buffer) < header_length:
        return None
    if extra:
        length = int.from_bytes(buffer[2:2 + extra], "big")
    mask = bytes(buffer[2 + extra:header_length]) if masked else None
    return header_length, length, mask


def _masked(data: bytes, mask: bytes) -> bytes:
    """XOR with the repeated 4-byte mask, all at once rather than byte by byte."""
    if not data:
        return b""
    key = (mask * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(len(data), "big")
