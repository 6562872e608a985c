"""The admin CLI of a docker scenario: `mooseng` run in a small container on the scenario network,
like an admin host.

The CLI is not run on the host: chunk servers advertise container addresses, which the host could
reach only by routing to the bridge, and the CLI has no address map. Not in the master's
container either: the CLI must keep working (and fail cleanly) while the master is stopped,
paused or killed. Files of `fs put` / `fs get` are copied in and out, and the output names them
as the caller did.
"""

from __future__ import annotations

# First: it sets testcontainers' configuration, which is read when testcontainers is imported.
from support.drivers import docker_engine  # noqa: F401  isort: skip

import io
import os
import pathlib
import posixpath
import tarfile
from typing import TYPE_CHECKING

import docker
import docker.errors
import requests
from docker.types import EndpointConfig
from testcontainers.core.container import DockerContainer

from support.drivers.base import START_TIMEOUT, CliResult
from support.drivers.docker_node import TLS_DIR, copy_tls
from support.drivers.ports import free_port
from support.waiting import within

if TYPE_CHECKING:
    from support.drivers.docker import DockerCluster

HOME = "/tmp/cli"
DASHBOARD_PORT = 8080     # of `mooseng dashboard` in the box, published on 127.0.0.1


class CliBox:
    def __init__(self, cluster: "DockerCluster"):
        self.cluster = cluster
        driver = cluster.driver
        tc = (DockerContainer(driver.image)
              .with_command(["sleep", "infinity"])
              .with_network(cluster.network)
              .with_name(f"mooseng-{driver.run_id}-{cluster.number:03d}-cli"))
        self.dashboard_port = free_port()
        tc.ports[f"{DASHBOARD_PORT}/tcp"] = ("127.0.0.1", self.dashboard_port)
        self.dashboard_url = ""
        tc.with_kwargs(
            hostname="cli", labels={**driver.labels, "mooseng.node": "cli"},
            dns_opt=["timeout:1", "attempts:1"],
            networking_config={cluster.network.name: EndpointConfig(
                docker.version.__version__, ipv4_address=cluster._ip(250))})
        self.tls = []
        if cluster.pki:
            copy_tls(tc, pathlib.Path(cluster.client_tls))
            self.tls = ["--tls", TLS_DIR]
        try:
            tc.start()
        finally:
            self.container = tc._container
        self.container.exec_run(["mkdir", "-p", HOME])

    def run(self, args: list[str], timeout: float) -> CliResult:
        inner, copy_out, renamed = self._files(args)
        command = ["timeout", "-s", "KILL", str(max(1, int(timeout))), "mooseng",
                   "--master", self.cluster.master.internal_address, *self.tls, *inner]
        code, (out, err) = self.container.exec_run(command, demux=True, workdir=HOME)
        stdout = (out or b"").decode(errors="replace")
        stderr = (err or b"").decode(errors="replace")
        for inside, local in renamed:       # the output names the files as the caller did
            stdout, stderr = stdout.replace(inside, local), stderr.replace(inside, local)
        if code == 137:
            return CliResult(args, -1, stdout, f"(no answer within {timeout} s) {stderr}")
        for inside, local in copy_out:
            self._copy_out(inside, local)
        return CliResult(args, code, stdout, stderr)

    def dashboard(self) -> str:
        """`mooseng dashboard` in the box, in the background; its log is dashboard.log."""
        if not self.dashboard_url:
            self.container.exec_run(
                ["sh", "-c", f"exec mooseng --master {self.cluster.master.internal_address} "
                 f"{' '.join(self.tls)} dashboard --host 0.0.0.0 --port {DASHBOARD_PORT} "
                 f">dashboard.log 2>&1"],
                detach=True, workdir=HOME)
            url = f"http://127.0.0.1:{self.dashboard_port}/"
            within(START_TIMEOUT, lambda: requests.get(url + "api/cluster", timeout=2).ok,
                   f"the dashboard in the CLI container to answer at {url}")
            self.dashboard_url = url
        return self.dashboard_url

    def dashboard_log(self, tail: int) -> str:
        if not self.dashboard_url:
            return ""
        _, out = self.container.exec_run(["tail", "-n", str(tail), "dashboard.log"],
                                         workdir=HOME)
        return out.decode(errors="replace")

    def remove(self) -> None:
        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass

    def _files(self, args: list[str]):
        """Rewrite the host file of `fs put` / `fs get` to a path in the CLI container: the
        arguments to run, the files to copy out afterwards, and (inside, host) name pairs."""
        inner, copy_out, renamed = list(args), [], []
        for kind, index, remote in fs_file_positions(args):
            local = args[index]
            if kind == "get" and os.path.isdir(local):    # `fs get PATH DIR` -> DIR/<name>
                local = os.path.join(local, posixpath.basename(remote.rstrip("/")))
            inside = f"{HOME}/{kind}-{index}-{os.path.basename(local) or 'file'}"
            inner[index] = inside
            renamed.append((inside, local))
            if kind == "put":
                self._copy_in(local, inside)
            else:
                copy_out.append((inside, local))
        return inner, copy_out, renamed

    def _copy_in(self, local: str, inside: str) -> None:
        if not os.path.exists(local):
            return      # let the CLI report the missing file itself
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            tar.add(local, arcname=os.path.basename(inside))
        self.container.put_archive(HOME, out.getvalue())

    def _copy_out(self, inside: str, local: str) -> None:
        try:
            stream, _ = self.container.get_archive(inside)
        except docker.errors.NotFound:
            return
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.getmembers()[0]
            with open(local, "wb") as handle:
                handle.write(tar.extractfile(member).read())


def fs_file_positions(args: list[str]) -> list[tuple[str, int, str]]:
    """(put|get, index of the host file in `args`, the file system path) for
    `fs put LOCAL PATH` / `fs get PATH LOCAL`; nothing for other commands."""
    with_value = {"--goal", "--master", "--timeout"}
    positional, skip = [], False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg in with_value:
            skip = True
            continue
        if not arg.startswith("-"):
            positional.append(index)
    words = [args[i] for i in positional]
    if len(words) >= 4 and words[0] == "fs" and words[1] == "put":
        return [("put", positional[2], words[3])]
    if len(words) >= 4 and words[0] == "fs" and words[1] == "get":
        return [("get", positional[3], words[2])]
    return []
