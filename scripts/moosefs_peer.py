"""A MooseFS 3.0 peer for side-by-side numbers: one master and chunk servers (MooseFS's own
64 MiB chunks, HDD_FSYNC_BEFORE_CLOSE = 1) inside a network namespace of their own, because
MooseFS refuses 127.0.0.1 for chunk server links; the namespace reaches the host through a veth
pair in a private /24 no route uses. mfsmount runs in the namespace through nsenter, which keeps
the host's mount namespace, so the FUSE mount is visible here. Every daemon has its own config
and data directory under `root`."""

import ipaddress
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from peer_processes import Daemon, run, wait_until

PACKAGES = ["moosefs-master", "moosefs-chunkserver", "moosefs-client", "moosefs-cli"]
PROGRAMS = ["mfsmaster", "mfschunkserver", "mfsmount", "mfssetgoal", "mfssettrashtime",
            "mfscli", "fusermount"]
EMPTY_METADATA = Path("/var/lib/mfs/metadata.mfs.empty")
MASTER_PORTS = {"MATOML": 9419, "MATOCS": 9420, "MATOCL": 9421}
CHUNKSERVER_PORT = 9422     # + number of the chunk server
SUBNET_POOL = ipaddress.ip_network("10.213.0.0/16")


def unmet_requirement() -> str | None:
    """Why this machine cannot run the peer at all, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, FUSE mounts, installing MooseFS)"
    if not os.path.exists("/dev/fuse"):
        return "no FUSE here (/dev/fuse is missing)"
    for program in ("ip", "nsenter", "apt-get"):
        if not shutil.which(program):
            return f"`{program}` is not installed"
    return None


def install(progress: Callable[[str], None]) -> None:
    """Install the MooseFS packages when a program is missing (apt-get update first if apt
    does not know them yet)."""
    if all(shutil.which(program) for program in PROGRAMS):
        return
    progress(f"installing {' '.join(PACKAGES)} (Debian packages)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install_cmd = ["apt-get", "install", "-y", "-q", *PACKAGES, "fuse3"]
    if subprocess.run(install_cmd, env=env, capture_output=True).returncode:
        progress("apt-get update (the MooseFS packages are not known yet)")
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        result = subprocess.run(install_cmd, env=env, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"cannot install {' '.join(PACKAGES)}: "
                               f"{result.stderr.strip()[-500:]}")


def version() -> str:
    """'3.0.117-1' from 'version: 3.0.117-1 ; build: 1341'."""
    return run(["mfsmaster", "-v"]).split(";")[0].removeprefix("version:").strip()


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of SUBNET_POOL that no address or route of this host overlaps."""
    used = []
    for argv in (["ip", "-4", "-o", "addr"], ["ip", "-4", "route"]):
        for word in run(argv).split():
            try:
                used.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                continue
    for subnet in SUBNET_POOL.subnets(new_prefix=24):
        if not any(subnet.overlaps(network) for network in used):
            return subnet
    raise RuntimeError(f"no free /24 left in {SUBNET_POOL}")


def _config(path: Path, settings: dict) -> Path:
    path.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
    return path


class MooseFSPeer:
    def __init__(self, root: Path, progress: Callable[[str], None], chunkservers: int = 3,
                 goal: int = 2):
        self.root = root
        self.progress = progress
        self.chunkservers = chunkservers
        self.goal = goal
        tag = f"mfsb{os.getpid()}"
        self.netns = tag
        self.host_if, self.ns_if = f"{tag}h", f"{tag}n"
        self.address = ""
        self.mountpoint = root / "mnt"
        self.daemons: list[Daemon] = []
        self.mount: Daemon | None = None
        self._netns_made = False

    def _in_ns(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}", *argv]

    def start(self) -> None:
        self.root.mkdir(parents=True)
        self._network()
        master = self._start_master()
        servers = [self._start_chunkserver(number) for number in range(self.chunkservers)]
        wait_until(self._registered, f"{self.chunkservers} MooseFS chunk servers to register",
                   [master, *servers])
        self._mount()
        # The tools talk to the master directly, so they run in the namespace too.
        run(self._in_ns(["mfssetgoal", "-r", str(self.goal), str(self.mountpoint)]))
        # Removed files go to the trash for a day by default and keep their chunks; the rounds
        # remove their files, which should free the space at once.
        run(self._in_ns(["mfssettrashtime", "-r", "0", str(self.mountpoint)]))
        self.progress(f"MooseFS {version()} mounted on {self.mountpoint} (master "
                      f"{self.address}, {self.chunkservers} chunk servers, goal {self.goal})")

    def _network(self) -> None:
        subnet = free_subnet()
        host, peer = f"{subnet[1]}/24", f"{subnet[2]}/24"
        self.address = str(subnet[2])
        self.progress(f"network namespace {self.netns}: {peer} (host side {host})")
        run(["ip", "netns", "add", self.netns])
        self._netns_made = True
        run(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if])
        run(["ip", "link", "set", self.ns_if, "netns", self.netns])
        run(["ip", "addr", "add", host, "dev", self.host_if])
        run(["ip", "link", "set", self.host_if, "up"])
        run(["ip", "-n", self.netns, "addr", "add", peer, "dev", self.ns_if])
        run(["ip", "-n", self.netns, "link", "set", self.ns_if, "up"])
        run(["ip", "-n", self.netns, "link", "set", "lo", "up"])

    def _daemon(self, name: str, argv: list[str]) -> Daemon:
        daemon = Daemon(name, self._in_ns(argv), self.root / f"{name}.log").start()
        self.daemons.append(daemon)
        return daemon

    def _start_master(self) -> Daemon:
        data = self.root / "master"
        data.mkdir()
        shutil.copy(EMPTY_METADATA, data / "metadata.mfs")
        exports = self.root / "mfsexports.cfg"
        exports.write_text("* / rw,alldirs,admin,maproot=0:0\n")
        topology = self.root / "mfstopology.cfg"
        topology.write_text("")
        settings = {"WORKING_USER": "root", "WORKING_GROUP": "root", "DATA_PATH": data,
                    "EXPORTS_FILENAME": exports, "TOPOLOGY_FILENAME": topology}
        for link, port in MASTER_PORTS.items():
            settings |= {f"{link}_LISTEN_HOST": self.address, f"{link}_LISTEN_PORT": port}
        config = _config(self.root / "mfsmaster.cfg", settings)
        return self._daemon("mfsmaster", ["mfsmaster", "-f", "-c", str(config), "start"])

    def _start_chunkserver(self, number: int) -> Daemon:
        data = self.root / f"cs{number}"
        (data / "hdd").mkdir(parents=True)
        hdd = data / "mfshdd.cfg"
        hdd.write_text(f"{data / 'hdd'}\n")
        config = _config(self.root / f"mfschunkserver{number}.cfg", {
            "WORKING_USER": "root", "WORKING_GROUP": "root", "DATA_PATH": data,
            "HDD_CONF_FILENAME": hdd, "MASTER_HOST": self.address,
            "MASTER_PORT": MASTER_PORTS["MATOCS"], "CSSERV_LISTEN_HOST": self.address,
            "CSSERV_LISTEN_PORT": CHUNKSERVER_PORT + number, "HDD_FSYNC_BEFORE_CLOSE": 1})
        return self._daemon(f"mfschunkserver{number}",
                            ["mfschunkserver", "-f", "-c", str(config), "start"])

    def _registered(self) -> bool:
        """Does the master list every chunk server?"""
        result = subprocess.run(self._in_ns(
            ["mfscli", "-H", self.address, "-P", str(MASTER_PORTS["MATOCL"]), "-n", "-p",
             "-SCS"]), capture_output=True, text=True)
        ports = {f"{self.address} {CHUNKSERVER_PORT + n}" for n in range(self.chunkservers)}
        listed = {" ".join(line.split()[2:4]) for line in result.stdout.splitlines()}
        return result.returncode == 0 and ports <= listed

    def _mount(self) -> None:
        self.mountpoint.mkdir()
        self.mount = Daemon("mfsmount", self._in_ns([
            "mfsmount", str(self.mountpoint), "-f", "-H", self.address,
            "-P", str(MASTER_PORTS["MATOCL"])]), self.root / "mfsmount.log").start()
        wait_until(lambda: os.path.ismount(self.mountpoint), "the MooseFS mount",
                   [self.mount, *self.daemons])

    def stop(self) -> list[str]:
        """Unmount, stop every daemon, delete the namespace (and with it the veth pair); goes
        on after a failed step and returns what could not be cleaned up."""
        problems = []
        if os.path.ismount(self.mountpoint):
            for argv in (["fusermount", "-u", str(self.mountpoint)],
                         ["umount", "-l", str(self.mountpoint)]):
                if subprocess.run(argv, capture_output=True).returncode == 0:
                    break
            else:
                problems.append(f"could not unmount {self.mountpoint}")
        for daemon in ([self.mount] if self.mount else []) + self.daemons[::-1]:
            daemon.stop()
        if self._netns_made:
            if subprocess.run(["ip", "netns", "del", self.netns],
                              capture_output=True).returncode:
                problems.append(f"could not delete network namespace {self.netns}")
            self._netns_made = False
        if subprocess.run(["ip", "link", "show", self.host_if],
                          capture_output=True).returncode == 0:
            subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        return problems
