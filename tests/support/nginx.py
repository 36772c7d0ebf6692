"""A real nginx for tests, running the shipped deploy/nginx.conf in front of test workers.

`NginxProxy(workers, directory)` takes deploy/nginx.conf as it is shipped and changes only
what a test cannot have: the lines marked `# TLS` (certificate, server name, port 443) are
replaced by a plain-HTTP listener on a free loopback port, the upstream's `server` lines name
the test's worker ports (with the shipped options), and the access log goes to the test's
directory. Everything else (the proxy directives, failover, headers, limits) runs as shipped.
nginx runs in the foreground (`daemon off`) under a main file of our own, with its pid, logs
and temporary files in `directory`; it is stopped with SIGQUIT (then SIGKILL) at the end.

Debian's nginx is installed by scripts/setup.sh when we are root; `find_nginx()` is None when
it is not there.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from tests.conftest import ROOT

SHIPPED = ROOT / "deploy" / "nginx.conf"
_UPSTREAM_SERVER = re.compile(r"^(\s*)server 127\.0\.0\.1:\d+( [^;]*)?;\n", re.MULTILINE)


def find_nginx() -> str | None:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def site_for_test(shipped: str, port: int, workers: list[int], directory: Path) -> str:
    """deploy/nginx.conf with a loopback HTTP listener, the test's workers and log file."""
    lines = [line for line in shipped.splitlines(keepends=True) if "# TLS" not in line]
    text = "".join(lines)
    head, brace, rest = text.partition("server {\n")
    assert brace, "deploy/nginx.conf has no server block"
    text = f"{head}server {{\n    listen 127.0.0.1:{port};\n{rest}"
    found = list(_UPSTREAM_SERVER.finditer(text))
    assert found, "deploy/nginx.conf names no upstream server 127.0.0.1:PORT"
    indent, options = found[0].group(1), found[0].group(2) or ""
    servers = "".join(f"{indent}server 127.0.0.1:{w}{options};\n" for w in workers)
    text = text[:found[0].start()] + servers + _UPSTREAM_SERVER.sub("", text[found[0].end():])
    text, logs = re.subn(r"access_log \S+", f"access_log {directory / 'access.log'}", text)
    assert logs == 1, "deploy/nginx.conf has no access_log line"
    return text


class NginxProxy:
    """nginx with the shipped site in front of `workers` (loopback ports)."""

    def __init__(self, workers: list[int], directory: Path, binary: str | None = None) -> None:
        found = binary or find_nginx()
        if found is None:
            raise RuntimeError("nginx is not installed: apt-get install -y nginx")
        self.binary = found
        self.workers = workers
        self.directory = directory
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"

    def start(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        site = self.directory / "partnerbot.conf"
        site.write_text(site_for_test(SHIPPED.read_text(encoding="utf-8"), self.port,
                                      self.workers, self.directory), encoding="utf-8")
        d = self.directory
        temp = " ".join(f"{kind}_temp_path {d / kind};"
                        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (d / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {d / 'nginx.pid'};\n"
            f"error_log {d / 'error.log'} info;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n    {temp}\n    include {site};\n}}\n", encoding="utf-8")
        self.process = subprocess.Popen(
            [self.binary, "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited ({self.process.returncode}):\n"
                                   f"{self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"nginx did not listen in 15 s:\n{self.error_log()}"
                                       ) from exc
                time.sleep(0.05)

    def error_log(self) -> str:
        try:
            return (self.directory / "error.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def log_lines(self) -> list[str]:
        try:
            return self.access_log.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)  # graceful: finish what is being proxied
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
