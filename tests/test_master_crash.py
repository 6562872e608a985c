"""kill -9 of a real master process while clients create files: after a restart every
acknowledged operation is there (the changelog fsync comes before the answer)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import grpc

from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc


def start(data_dir):
    ports = data_dir / "ports.json"
    ports.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "mooseng.master.main", "--data-dir", str(data_dir),
         "--port", "0", "--http-port", "0", "--snapshot-every", "300"],
        stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not ports.exists():
        assert process.poll() is None, "master exited during start-up"
        assert time.monotonic() < deadline, "master did not write ports.json"
        time.sleep(0.05)
    return process, f"127.0.0.1:{json.loads(ports.read_text())['grpc']}"


def test_acknowledged_creates_survive_kill_9(tmp_path):
    process, address = start(tmp_path)
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(number):
        with grpc.insecure_channel(address) as channel:
            master = pb_grpc.MasterStub(channel)
            count = 0
            while not stop.is_set():
                path = f"/w{number}-{count}"
                try:
                    master.Create(pb.CreateRequest(path=path, exclusive=True), timeout=5)
                except grpc.RpcError:
                    return
                acknowledged.append(path)
                count += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    try:
        for thread in threads:
            thread.start()
        while len(acknowledged) < 700:              # past two snapshots
            assert process.poll() is None
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        if process.poll() is None:
            process.kill()
    process, address = start(tmp_path)
    try:
        with grpc.insecure_channel(address) as channel:
            master = pb_grpc.MasterStub(channel)
            names, after = set(), ""
            while True:
                page = master.ReadDir(pb.ReadDirRequest(path="/", start_after=after))
                names.update(e.name for e in page.entries)
                if not page.more:
                    break
                after = page.entries[-1].name
            lost = [p for p in acknowledged if p[1:] not in names]
            assert not lost, f"{len(lost)} acknowledged creates lost, e.g. {lost[:5]}"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
