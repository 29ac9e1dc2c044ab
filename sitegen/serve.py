"""`sitegen serve`: the built site on loopback and, with `--watch`, rebuilt when its inputs move.

Only regular files under the output directory are served: never its build cache (`_build/`),
hidden files (a build's temporaries), anything a path or symlink leads to outside it (checked on
the very file that is opened, a directory's index too), a directory listing or a FIFO. With
`--watch`, HTML responses (never the files on disk) carry a small script that reloads the page
when `/_sitegen/build-id` changes after a rebuild.
"""

from __future__ import annotations

import io
import json
import os
import socketserver
import stat
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO, ClassVar, TextIO

from sitegen import cache
from sitegen.config import DEFAULT_CONFIG_FILE, Config, load_config, with_default_roots
from sitegen.errors import ConfigError, OutputLocked, SitegenError
from sitegen.out_dir import check_out_dir
from sitegen.pipeline import build
from sitegen.reporting import Reporter, summary
from sitegen.watch import merged, moved, other_inputs, restat, seen_by_build

HOST = "127.0.0.1"
BUILD_ID_PATH = "/_sitegen/build-id"
POLL_S = 1.0
POLL_SHARE = 0.2  # stat-ing a huge tree on NFS may take a while: poll less often, not all the time

RELOAD_SCRIPT = """<script>/* sitegen serve --watch: reload after a rebuild */
(function () {
  var built = BUILD_ID;
  setInterval(function () {
    fetch("/_sitegen/build-id", {cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : built; })
      .then(function (id) { if (id !== built) location.reload(); })
      .catch(function () {});
  }, 1000);
})();
</script>
"""


def serve(
    config_file: str | None = None, *, roots: Sequence[str] = (), out: str | None = None,
    port: int = 8000, watch: bool = False, stream: TextIO | None = None, allow_foreign_out: bool = False,
) -> None:
    """Serve the site of this config on 127.0.0.1:`port` (0: a free one) until Ctrl-C; with
    `watch`, build it first and again whenever its inputs move."""
    stream = stream or sys.stderr
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: expected 0 to 65535")
    config = load_config(config_file, roots=list(roots), out=out)
    if watch:  # a refused output is an error, not a failed build that leaves it served
        check_out_dir(config.out, config.roots, allow_foreign=allow_foreign_out)
    live = Live() if watch else None
    server = make_server(config.out, port, live)
    serving = None
    try:
        if live is not None:
            rebuilder = Rebuilder(config, config_file, list(roots), live, stream, allow_foreign_out)
            rebuilder.build()
        elif not os.path.isfile(os.path.join(config.out, "index.html")):
            print(f"no site in {config.out} yet: building it first", file=stream, flush=True)
            report = build(with_default_roots(config), reporter=Reporter(),
                           allow_foreign_out=allow_foreign_out)
            print(summary(report), file=stream)
        watching = f", watching {_watched(config, config_file)}" if watch else ""
        url = f"http://{HOST}:{server.server_port}/"
        print(f"serving {url} ({config.out}{watching})", file=stream, flush=True)
        if live is None:
            server.serve_forever()
            return
        serving = threading.Thread(target=server.serve_forever, name="sitegen-serve", daemon=True)
        serving.start()
        rebuilder.run()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a preview ends
    finally:
        if serving is not None:
            server.shutdown()
        server.server_close()


def _watched(config: Config, config_file: str | None) -> str:
    roots = len(config.roots) or 1  # none configured: the bundled examples
    return (f"{roots} root{'s' if roots > 1 else ''}, {os.path.basename(config.content)}/, "
            f"the theme and {config_file or DEFAULT_CONFIG_FILE}")


class Live:
    """The id of the last build that changed the site; open pages reload when it changes."""

    def __init__(self) -> None:
        self._server = format(time.time_ns(), "x")  # a restarted server reloads open pages too
        self.changes = 0

    @property
    def build_id(self) -> str:
        return f"{self._server}-{self.changes}"


class Rebuilder:
    """Builds when a watched input moves, in this process; a failed build keeps the last good site."""

    def __init__(self, config: Config, config_file: str | None, roots: list[str], live: Live,
                 stream: TextIO, allow_foreign_out: bool = False) -> None:
        self.config_file = os.path.abspath(config_file or DEFAULT_CONFIG_FILE)
        self.flags = (config_file, roots, config.out)  # the output dir stays the one being served
        self.allow_foreign_out = allow_foreign_out
        self.live = live
        self.stream = stream
        self.seen = other_inputs(config, self.config_file)
        self.recheck_at: float | None = None  # racy runs: build again once the window has passed
        self.builds = 0
        self.error: str | None = None

    def run(self) -> None:
        while True:
            polled = time.monotonic()
            due = self.recheck_at is not None and polled >= self.recheck_at
            changed = due or moved(self.seen)
            took = time.monotonic() - polled
            if changed:
                self.build()
            time.sleep(max(POLL_S, took / POLL_SHARE))

    def build(self) -> None:
        before = restat(self.seen)
        try:
            config_file, roots, out = self.flags
            config = with_default_roots(load_config(config_file, roots=roots, out=out))
            others = other_inputs(config, self.config_file)
            report = build(config, reporter=Reporter(), allow_foreign_out=self.allow_foreign_out)
        except OutputLocked as exc:  # another build is writing: try again at the next poll
            self._failed(exc)
            return
        except Exception as exc:  # a bad config, a missing root, a full disk…: keep the last good site
            self._failed(exc)
            self.seen, self.recheck_at = before, None
            return
        self.seen = merged(others, seen_by_build(config.out))
        self.recheck_at = time.monotonic() + config.build.racy_window_s if self.seen.racy else None
        changed = bool(report.pages_written or report.pages_removed)
        if changed or self.error or not self.builds:
            print(summary(report), file=self.stream, flush=True)
        if changed:
            self.live.changes += 1
        self.builds += 1
        self.error = None

    def _failed(self, exc: Exception) -> None:
        reason = "; ".join(str(exc).splitlines()) or type(exc).__name__
        if not isinstance(exc, SitegenError):
            reason = f"{type(exc).__name__}: {reason}"
        line = f"build failed: {reason} (still serving the last good site)"
        if line != self.error:  # once, not at every poll while it persists
            print(line, file=self.stream, flush=True)
        self.error = line


def make_server(out: str, port: int = 0, live: Live | None = None) -> SiteServer:
    """A server for the site in `out` on 127.0.0.1 (bound, not yet serving)."""
    try:
        return SiteServer(out, port, live)
    except OSError as exc:
        raise SitegenError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}; "
                           "pass another --port (0 picks a free one)") from None


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, out: str, port: int, live: Live | None) -> None:
        self.site = os.path.realpath(out)
        self.live = live
        super().__init__((HOST, port), SiteHandler)

    def server_bind(self) -> None:
        # HTTPServer's own also looks up the host's FQDN, which can stall without DNS
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]


class SiteHandler(SimpleHTTPRequestHandler):
    server: SiteServer
    server_version = "sitegen"
    extensions_map: ClassVar[dict[str, str]] = {
        ".html": "text/html; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".mjs": "text/javascript; charset=utf-8",
        ".json": "application/json",
        ".css": "text/css; charset=utf-8",
        ".csv": "text/csv; charset=utf-8",
        ".txt": "text/plain; charset=utf-8",
        ".svg": "image/svg+xml",
    }

    def send_head(self) -> BinaryIO | None:
        url = urllib.parse.urlsplit(self.path)
        live = self.server.live
        if live is not None and url.path == BUILD_ID_PATH:
            return self._reply(live.build_id.encode(), "text/plain; charset=utf-8")
        site = self.server.site
        path = site_file(site, url.path)
        if path is not None and os.path.isdir(path):
            if not url.path.endswith("/"):  # so that the page's relative links resolve
                return self._redirect(url.path + "/" + (f"?{url.query}" if url.query else ""))
            path = site_file(site, url.path + "index.html")  # checked in turn; never a listing
        file = open_in_site(site, path) if path is not None else None
        if file is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        kind = self.guess_type(path)
        if live is not None and kind.startswith("text/html"):
            with file:
                return self._reply(with_reload_script(file.read(), live.build_id), kind)
        self._headers(kind, os.fstat(file.fileno()).st_size)
        return file

    def _reply(self, data: bytes, kind: str) -> BinaryIO:
        self._headers(kind, len(data))
        return io.BytesIO(data)

    def _headers(self, kind: str, length: int) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-cache")  # a preview changes under the browser
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: one line per rebuild is all a preview prints


def site_file(site: str, url_path: str) -> str | None:
    """The file or directory under `site` that `url_path` names, if it exists and may be served:
    not outside the site (`..`, encoded or not, or through a symlink), not in the build cache,
    not hidden."""
    try:
        parts = [p for p in urllib.parse.unquote(url_path, errors="strict").split("/") if p not in ("", ".")]
    except UnicodeDecodeError:
        return None
    if any(part.startswith(".") or "\\" in part or "\0" in part for part in parts):
        return None
    path = os.path.realpath(os.path.join(site, *parts))
    inside = os.path.relpath(path, site).split(os.sep) if path != site else []
    if inside and (inside[0].casefold() == cache.CACHE_DIR.casefold()
                   or any(part.startswith(".") for part in inside)):  # `..`: outside the site
        return None
    return path if os.path.exists(path) else None


_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # a FIFO must not wait


def open_in_site(site: str, path: str) -> BinaryIO | None:
    """The regular file `path` (as `site_file` gave it: resolved, no symlink in it) opened for
    reading, one directory at a time from `site` without following a symlink: a file or a
    directory on its way swapped for a symlink since it was checked is refused, not followed."""
    *dirs, name = os.path.relpath(path, site).split(os.sep)
    try:
        fd = os.open(site, _OPEN_DIR)
    except OSError:
        return None
    try:
        for part in dirs:
            fd, parent = os.open(part, _OPEN_DIR, dir_fd=fd), fd
            os.close(parent)
        file_fd = os.open(name, _OPEN_FILE, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(file_fd).st_mode):  # a directory, a FIFO, a device
        os.close(file_fd)
        return None
    return os.fdopen(file_fd, "rb")


def with_reload_script(html: bytes, build_id: str) -> bytes:
    """The page with the live-reload script before its `</body>` (at the end when it has none)."""
    script = RELOAD_SCRIPT.replace("BUILD_ID", json.dumps(build_id)).encode()
    at = html.lower().rfind(b"</body>")
    return html + script if at < 0 else html[:at] + script + html[at:]
