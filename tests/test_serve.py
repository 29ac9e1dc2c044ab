"""`sitegen serve`: a real server on a free port, what it serves and refuses, and `--watch`."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import make_config, run_build, stop_process_group, write_sidecar_run

from sitegen import serve
from sitegen.serve import BUILD_ID_PATH, Live, make_server, with_reload_script

WAIT_S = 60  # generous: tests never assert on timing, they poll until this
RUN = "20231114/221320/aaaaaaaaaaaa"


def get(
    port: int, path: str, host: str = "127.0.0.1", method: str = "GET",
) -> tuple[int, dict[str, str], bytes]:
    """GET (or `method`) `path` exactly as written (no client-side normalising of `..`)."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def eventually(check: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"not within {WAIT_S}s: {what}")


@contextlib.contextmanager
def served(out: Path, live: Live | None = None) -> Iterator[int]:
    server = make_server(str(out), 0, live)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(runs_root: Path, tmp_path: Path) -> Path:
    out = tmp_path / "site"
    run_build(make_config(runs_root, out))
    return out


def run_page(out: Path) -> str:
    (page,) = (out / "runs").glob("20231114-221320-aaaaaaaaaaaa-*/index.html")
    return "/" + page.relative_to(out).as_posix()


def test_pages_are_served_with_their_content_types(site):
    page = run_page(site)
    with served(site) as port:
        status, headers, body = get(port, "/")
        assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8")
        assert body == (site / "index.html").read_bytes()  # no reload script without --watch
        assert get(port, page)[2] == (site / page[1:]).read_bytes()
        expected = {"/assets/site.js": "text/javascript; charset=utf-8",
                    "/assets/site.css": "text/css; charset=utf-8",
                    "/runs.json": "application/json",
                    page.replace("index.html", "metrics.csv"): "text/csv; charset=utf-8",
                    page.replace("index.html", "data.js"): "text/javascript; charset=utf-8"}
        for path, kind in expected.items():
            status, headers, body = get(port, path)
            assert (status, headers["Content-Type"]) == (200, kind), path
            assert body == (site / path[1:]).read_bytes()
        run_dir = page.removesuffix("index.html")
        status, headers, _ = get(port, run_dir.rstrip("/") + "?x=1")
        assert (status, headers["Location"]) == (301, run_dir + "?x=1")  # relative links resolve
        assert get(port, run_dir)[0] == 200
        status, headers, _ = get(port, "////" + run_dir.strip("/"))  # never `//runs/`: another host
        assert (status, headers["Location"]) == (301, run_dir)


def test_the_build_cache_paths_outside_the_site_and_listings_are_refused(site, tmp_path):
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    os.symlink(tmp_path / "secret.txt", site / "leak.txt")
    os.symlink(site / "_build", site / "cache")
    (site / ".tmp-1-index.html.part").write_text("half a page")
    os.symlink(site / ".tmp-1-index.html.part", site / "half.html")  # hidden once resolved
    refused = ["/half.html", "/_build/report.json", "/_build/", "/_build", "/%5Fbuild/report.json",
               "/_build/manifest.msgpack", "/cache/report.json", "/leak.txt", "/.tmp-1-index.html.part",
               "/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/runs/%2E%2E/%2e%2e/secret.txt",
               "/assets/..%5c..%5csecret.txt", "/%ff", "/assets/", "/nowhere.html", BUILD_ID_PATH]
    with served(site) as port:
        for path in refused:
            status, _, body = get(port, path)
            assert status == 404, path
            assert b"TOP SECRET" not in body and b"runs_total" not in body and b"site.css" not in body
            assert b"half a page" not in body
            assert get(port, path, method="HEAD")[0] == 404, path
        assert get(port, "/")[0] == 200


SECRET = b"TOP SECRET"


def outside_file(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir(exist_ok=True)
    secret.write_bytes(SECRET)
    return secret


def assert_refused(port: int, path: str) -> None:
    for method in ("GET", "HEAD"):
        status, _, body = get(port, path, method=method)
        assert status == 404, (method, path)
        assert SECRET not in body and b"runs_total" not in body and b"half a page" not in body


@pytest.mark.parametrize("watch", [False, True], ids=["plain", "watch"])
def test_a_directory_index_is_resolved_and_checked_like_any_other_file(site, tmp_path, watch):
    """`runs/x/` serves `runs/x/index.html` only if that file, symlinks resolved, may be served."""
    secret = outside_file(tmp_path)
    (site / ".tmp-1-index.html.part").write_text("half a page")
    indexes = {"out": secret, "cache": site / "_build" / "report.json",
               "hidden": site / ".tmp-1-index.html.part"}
    for name, target in indexes.items():
        (site / "runs" / name).mkdir()
        os.symlink(target, site / "runs" / name / "index.html")
    (site / "runs" / "nested" / "index.html").mkdir(parents=True)  # a directory: never a listing
    page = run_page(site)
    (site / "runs" / "inside").mkdir()
    os.symlink(site / page[1:], site / "runs" / "inside" / "index.html")  # inside the site: fine
    with served(site, Live() if watch else None) as port:
        for name in indexes:
            assert_refused(port, f"/runs/{name}/")
            assert_refused(port, f"/runs/{name}/index.html")
        assert_refused(port, "/runs/nested/")
        status, _, body = get(port, "/runs/inside/")
        assert status == 200 and b"aaaaaaaaaaaa" in body
        assert get(port, "/runs/inside/", method="HEAD")[0] == 200

        (site / "index.html").unlink()
        os.symlink(secret, site / "index.html")
        assert_refused(port, "/")
        assert_refused(port, "/index.html")


def test_a_path_through_a_symlinked_directory_out_of_the_site_is_refused(site, tmp_path):
    secret = outside_file(tmp_path)
    (secret.parent / "index.html").write_bytes(SECRET)
    os.symlink(secret.parent, site / "runs" / "elsewhere")
    os.symlink(site / "_build", site / "runs" / "cache")
    with served(site) as port:
        for path in ["/runs/elsewhere/", "/runs/elsewhere/index.html", "/runs/elsewhere/secret.txt",
                     "/runs/cache/report.json", "/runs/elsewhere/../../index.html"]:
            assert_refused(port, path)


def test_a_fifo_in_the_site_is_refused_without_blocking_the_server(site):
    os.mkfifo(site / "pipe.html")
    with served(site) as port:
        assert_refused(port, "/pipe.html")  # opening it for reading would wait for a writer
        assert get(port, "/")[0] == 200


@pytest.mark.parametrize("swapped", ["file", "directory"])
def test_a_path_swapped_for_a_symlink_after_its_check_is_not_followed(site, tmp_path, monkeypatch, swapped):
    """A file (or a directory on its path) replaced by a symlink out of the site between the
    check and the open: the server opens nothing through it."""
    secret = outside_file(tmp_path)
    page = run_page(site)
    (secret.parent / "index.html").write_bytes(SECRET)
    checked, target = serve.site_file, site / page[1:]

    def check_then_swap(site_dir: str, url_path: str) -> str | None:
        path = checked(site_dir, url_path)
        if swapped == "file":
            target.unlink()
            os.symlink(secret, target)
        else:
            target.parent.rename(tmp_path / "moved")
            os.symlink(secret.parent, target.parent)
        return path

    with served(site) as port:
        monkeypatch.setattr(serve, "site_file", check_then_swap)
        status, _, body = get(port, page)
        assert status == 404 and SECRET not in body


def test_it_listens_on_loopback_only(site):
    with served(site) as port:
        assert get(port, "/")[0] == 200
        with pytest.raises(OSError), socket.create_connection(("127.0.0.2", port), timeout=5):
            pass


def test_watch_pages_carry_the_reload_script_that_the_files_do_not(site):
    live = Live()
    with served(site, live) as port:
        status, headers, body = get(port, "/")
        assert status == 200 and int(headers["Content-Length"]) == len(body)
        disk = (site / "index.html").read_bytes()
        assert body != disk and body == with_reload_script(disk, live.build_id)
        assert body.index(BUILD_ID_PATH.encode()) < body.rindex(b"</body>")
        assert get(port, "/assets/site.js")[2] == (site / "assets/site.js").read_bytes()
        assert get(port, BUILD_ID_PATH)[2].decode() == live.build_id
        live.changes += 1
        assert get(port, BUILD_ID_PATH)[2].decode() == live.build_id
    assert not any(BUILD_ID_PATH.encode() in p.read_bytes() for p in site.rglob("*") if p.is_file())


def test_the_reload_script_goes_at_the_end_of_a_page_without_a_body():
    assert with_reload_script(b"<p>hi", "7").startswith(b"<p>hi<script>")
    assert b'var built = "7";' in with_reload_script(b"<p>hi", "7")


# --- the command, in a process of its own ----------------------------------------------------


class Serving:
    """`sitegen serve …` in a new process group; its stderr collected line by line."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sitegen", "serve", "--port", "0", *args], cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_own_group_with_sigint,
            env={**os.environ, "PYTHONWARNINGS": "error"},
        )
        self.lines: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()
        found = eventually(lambda: self._port() or self.process.poll() is not None, "the serving line")
        assert found is not True, f"sitegen serve exited: {self.lines}"
        self.port = int(found)

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def _port(self) -> str | None:
        for line in self.lines:
            match = re.fullmatch(r"serving http://127\.0\.0\.1:(\d+)/ \(.*\)", line)
            if match:
                return match[1]
        return None

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return get(self.port, path)

    def build_id(self) -> str:
        return self.get(BUILD_ID_PATH)[2].decode()

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=WAIT_S)


def _own_group_with_sigint() -> None:
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell may start background jobs ignoring it


@pytest.fixture
def serving() -> Iterator[Callable[..., Serving]]:
    started: list[Serving] = []

    def start(*args: str, cwd: Path) -> Serving:
        started.append(Serving(*args, cwd=cwd))
        return started[-1]

    yield start
    for server in started:
        stop_process_group(server.process)


def test_serve_builds_a_missing_site_first_then_stops_cleanly_on_ctrl_c(runs_root, tmp_path, serving):
    server = serving("--root", str(runs_root), "--out", "site", cwd=tmp_path)
    assert server.get("/")[0] == 200
    assert server.interrupt() == 0
    assert server.lines[0] == f"no site in {tmp_path / 'site'} yet: building it first"
    assert server.lines[1].startswith("built 3 runs (3 read, 0 cached, 0 failed)")
    assert server.lines[2:] == [f"serving http://127.0.0.1:{server.port}/ ({tmp_path / 'site'})"]
    assert server.process.stdout is not None and server.process.stdout.read() == ""


def test_watch_rebuilds_a_changed_run_and_open_pages_see_a_new_build_id(runs_root, tmp_path, serving):
    (tmp_path / "sitegen.yaml").write_text(f"roots: [{runs_root}]\nout: site\nbuild:\n  racy_window_s: 0\n")
    server = serving("--watch", cwd=tmp_path)
    out = tmp_path / "site"
    assert server.lines[0].startswith("built 3 runs (3 read")
    assert server.lines[1] == (f"serving http://127.0.0.1:{server.port}/ ({out}, watching 1 root, content/, "
                               "the theme and sitegen.yaml)")
    first = server.build_id()
    page = run_page(out)
    assert b"fresh-note-42" not in server.get(page)[2]

    write_sidecar_run(runs_root, RUN, notes="fresh-note-42")  # old mtimes: only ctime and size move
    eventually(lambda: server.build_id() != first, "a new build id after a run changed")
    body = server.get(page)[2]
    assert b"fresh-note-42" in body and BUILD_ID_PATH.encode() in body
    assert BUILD_ID_PATH.encode() not in (out / page[1:]).read_bytes()
    assert any(line.startswith("built 3 runs (1 read, 2 cached, 0 failed)") for line in server.lines)

    second = server.build_id()
    write_sidecar_run(runs_root, "20231116/090000/dddddddddddd")  # a new run: a directory's mtime moves
    eventually(lambda: server.build_id() != second, "a new build id after a run was added")
    assert b"dddddddddddd" in server.get("/")[2]
    assert not any(line.startswith("Traceback") for line in server.lines)


def test_a_broken_config_during_watch_is_one_line_and_the_last_site_stays(runs_root, tmp_path, serving):
    config = tmp_path / "sitegen.yaml"
    config.write_text(f"roots: [{runs_root}]\nout: site\n")
    server = serving("--watch", cwd=tmp_path)
    shown = server.get("/")[2]
    build_id = server.build_id()

    config.write_text(f"roots: [{runs_root}]\nout: site\nbuild:\n  workers: lots\n")
    failed = ("build failed: sitegen.yaml: build.workers: expected int, got str "
              "(still serving the last good site)")
    eventually(lambda: failed in server.lines, "the one-line build error")
    time.sleep(3)  # a few more polls: the error is not repeated, the site is still served
    assert server.lines.count(failed) == 1 and server.lines[-1] == failed
    assert server.get("/")[2] == shown and server.build_id() == build_id

    config.write_text(f"roots: [{runs_root}]\nout: site\ntitle: Fixed\n")
    eventually(lambda: server.lines[-1].startswith("built 3 runs"), "a good build after the fix")
    eventually(lambda: b"Fixed" in server.get("/")[2], "the page with the new title")
    assert server.interrupt() == 0
    assert not any("Traceback" in line for line in server.lines)


def test_a_port_in_use_is_one_line(site, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "sitegen", "serve", "--out", str(site), "--port", str(port)]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 1
    assert done.stderr.startswith(f"sitegen: error: cannot listen on 127.0.0.1:{port}: ")
    assert done.stderr.count("\n") == 1


def test_watch_refuses_a_foreign_output_instead_of_serving_it(runs_root, tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("not a site")
    command = [sys.executable, "-m", "sitegen", "serve", "--watch", "--port", "0", "--root", str(runs_root),
               "--out", "home"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 2
    assert done.stderr.startswith(f"sitegen: error: the output directory {tmp_path / 'home'} is not empty")
    assert done.stderr.count("\n") == 1
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == ["notes.txt"]
