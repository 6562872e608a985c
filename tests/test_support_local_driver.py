"""The local driver against the real daemons: start, stop, kill, restart, corrupt, clean up."""

import pathlib
import sys

# `support/` is the suite's library at the repository root (not an installed package).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import json
import os
import shutil
import signal
import subprocess

import pytest

from mooseng.client import Client

from support import rpc
from support.drivers import local_disk
from support.drivers.local import MOUNT_DIR, PID_DIR, LocalDriver, _start_time
from support.waiting import within
from support.world import topology


@pytest.fixture
def driver():
    driver = LocalDriver()
    yield driver
    driver.teardown_all()
    assert driver.leftovers() == []


def test_cluster_starts_registers_and_serves_a_file(driver):
    cluster = driver.start_cluster(topology(2), "unit test")
    assert rpc.online_count(cluster.master.address) == 2
    with Client(cluster.master.address, timeout=10) as client:
        client.write_bytes("/f", b"x" * 100_000, goal=2)
        chunk = client.stat("/f").chunks[0]
    holders = [n for n in cluster.chunkservers if chunk.chunk_id in n.stored_chunks()]
    assert len(holders) == 2
    assert holders[0].stored_chunks()[chunk.chunk_id] == chunk.version
    assert "started" in cluster.master.logs()
    cluster.teardown()
    assert not cluster.workdir.exists()


def test_restart_on_the_same_data_keeps_the_address(driver):
    cluster = driver.start_cluster(topology(1), "restart")
    node = cluster.chunkservers[0]
    address = node.address
    node.kill()
    assert not node.is_running()
    node.start()
    assert node.address == address and node.is_running()
    node.stop()
    assert node.process.returncode == 0, "a clean stop on SIGTERM"


def test_pause_freezes_the_process_group(driver):
    cluster = driver.start_cluster(topology(1), "pause")
    node = cluster.chunkservers[0]
    node.pause()
    within(2, lambda: _state(node.process.pid) == "T", "the process stopped")
    node.resume()
    within(2, lambda: _state(node.process.pid) != "T", "the process running again")


def _state(pid: int) -> str:
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]


def test_corrupt_chunk_flips_bytes_of_the_stored_copy(driver):
    cluster = driver.start_cluster(topology(1), "corrupt")
    with Client(cluster.master.address, timeout=10) as client:
        client.write_bytes("/f", bytes(range(256)) * 400, goal=1)
    node = cluster.chunkservers[0]
    (path,) = [p for _, _, p in node._chunk_files()]
    before = path.read_bytes()
    chunk_id = node.corrupt_chunk()
    after = path.read_bytes()
    assert chunk_id in node.stored_chunks()
    assert len(after) == len(before) and after != before


def test_an_interrupted_runs_processes_are_swept():
    gone = subprocess.Popen(["true"])
    gone.wait()   # stands for the behave process of a run that was killed
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    PID_DIR.mkdir(exist_ok=True)
    (PID_DIR / str(orphan.pid)).write_text(json.dumps(
        {"run": gone.pid, "started": _start_time(orphan.pid), "args": ["sleep", "60"]}))
    LocalDriver().sweep()
    assert orphan.wait(timeout=5) == -signal.SIGKILL
    assert not (PID_DIR / str(orphan.pid)).exists()


def test_processes_of_a_live_run_are_left_alone():
    alive = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        owner = subprocess.Popen(["sleep", "60"])
        PID_DIR.mkdir(exist_ok=True)
        (PID_DIR / str(alive.pid)).write_text(json.dumps(
            {"run": owner.pid, "started": _start_time(alive.pid), "args": ["sleep"]}))
        LocalDriver().sweep()
        assert alive.poll() is None
    finally:
        for process in (alive, owner):
            process.kill()
            process.wait()
        (PID_DIR / str(alive.pid)).unlink(missing_ok=True)


def test_a_reserved_port_is_not_reserved_again_before_its_node_binds_it():
    """A topology reserves dozens of ports before it starts a node; two nodes given one port
    would fail to start ("Address already in use")."""
    from support.drivers.ports import free_port

    ports = [free_port() for _ in range(3000)]
    assert len(set(ports)) == len(ports)


def test_ports_reserved_from_several_threads_at_once_are_all_different():
    """The docker driver creates a topology's containers in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    from support.drivers.ports import free_port

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)          # threads interleave as on a busy machine
    try:
        with ThreadPoolExecutor(8) as pool:
            ports = list(pool.map(lambda _: free_port(), range(2000)))
    finally:
        sys.setswitchinterval(switching)
    assert len(set(ports)) == len(ports)


def test_a_region_topology_runs_its_links_as_processes(driver):
    """The WAN links start before the servers, listen on their ports, and pausing the links of
    a region cuts its chunk server off the master."""
    from support.drivers.base import Region

    cluster = driver.start_cluster(topology(0, regions=[Region("near", 1, 0.01),
                                                        Region("far", 1, 0.03)]), "regions")
    link = cluster.region_links("far")
    assert [n.name for n in link] == ["wan-near-far"]
    far = cluster.chunkservers[1]
    assert cluster.advertised_to(far) == {"near": link[0].address_for(far, "near")}
    assert cluster.internal_master_in("far") != cluster.master_addresses
    assert cluster.internal_master_in("near") == cluster.master_addresses
    link[0].pause()
    try:
        within(10, lambda: rpc.online_count(cluster.master.address), "the far server offline",
               until=lambda online: online == 1)
    finally:
        link[0].resume()
    within(20, lambda: rpc.online_count(cluster.master.address), "the far server back",
           until=lambda online: online == 2)


@pytest.mark.skipif(local_disk.unavailable() is not None, reason=str(local_disk.unavailable()))
def test_a_chunk_servers_small_disk_fills_frees_and_is_unmounted_at_teardown(driver):
    cluster = driver.start_cluster(topology(1, disk=8 * 1024 * 1024), "small disk")
    node = cluster.chunkservers[0]
    assert os.path.ismount(node.data_dir)
    node.fill_disk()
    assert shutil.disk_usage(node.data_dir).free == 0
    node.free_disk()
    assert shutil.disk_usage(node.data_dir).free > 4 * 1024 * 1024
    cluster.teardown()
    assert not os.path.ismount(node.data_dir)
    assert not list(MOUNT_DIR.glob("mount-*"))


@pytest.mark.skipif(local_disk.unavailable() is not None, reason=str(local_disk.unavailable()))
def test_an_interrupted_runs_disks_are_unmounted(tmp_path):
    disk, records = tmp_path / "disk", tmp_path / "records"
    disk.mkdir()
    local_disk.mount(disk, 1024 * 1024, records)
    record = next(records.iterdir())
    record.write_text(json.dumps({"run": 1, "path": str(disk)}))    # a run that is gone
    local_disk.sweep(records, owner_alive=lambda run: False)
    assert not os.path.ismount(disk) and not record.exists()
