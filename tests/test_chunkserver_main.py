"""`mooseng-chunkserver` as a process: settings, one-line config errors, ports.json, readiness,
labels reported, and a clean exit on SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import grpc

from mooseng.chunkserver.config import ChunkServerConfig
from mooseng.chunkserver.main import main
from mooseng.chunkserver.server import advertised
from mooseng.common import config
from mooseng.proto import mooseng_pb2 as pb
from mooseng.proto import mooseng_pb2_grpc as pb_grpc

from conftest import wait_for
from test_chunkserver_service import free_port


def test_advertised_address_in_every_form():
    """--advertise takes host, host:port, [v6] or [v6]:port (without a port: the real one);
    without it, the listening address, or this machine's when listening on every address."""
    def where(advertise):
        return advertised(ChunkServerConfig(data_dir="/d", advertise=advertise), 9420)
    assert where("cs1.example") == ("cs1.example", 9420)
    assert where("10.0.0.5:7000") == ("10.0.0.5", 7000)
    assert where("[fd00::5]:7000") == ("fd00::5", 7000)
    assert where("[fd00::5]") == ("fd00::5", 9420)
    listening = ChunkServerConfig(data_dir="/d", host="127.0.0.2")
    assert advertised(listening, 9420) == ("127.0.0.2", 9420)
    everywhere = ChunkServerConfig(data_dir="/d", host="0.0.0.0")     # in a container
    assert advertised(everywhere, 9420) == (socket.gethostbyname(socket.gethostname()), 9420)


def test_settings_from_flags_env_and_toml(tmp_path, monkeypatch):
    toml = tmp_path / "cs.toml"
    toml.write_text('data_dir = "/from/toml"\ncapacity = "10GiB"\nscrub_interval = 5\n'
                    'label = {rack = "r1"}\n')
    monkeypatch.setenv("MOOSENG_MASTER", "10.0.0.1:9421")
    settings = config.load(ChunkServerConfig, ["--config", str(toml), "--label", "tier=ssd",
                                               "--label", "region=eu-west", "--port", "0"])
    assert settings.data_dir == "/from/toml"
    assert settings.capacity == 10 * 1024 ** 3
    assert settings.scrub_interval == 5.0
    assert settings.master == "10.0.0.1:9421"
    assert settings.port == 0
    assert settings.label == {"tier": "ssd", "region": "eu-west"}


def test_bad_settings_are_one_line_and_exit_2(tmp_path, capsys):
    assert main([]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "missing setting 'data_dir': give --data-dir, the TOML key data_dir or MOOSENG_DATA_DIR")
    for argv, words in ((["--master", "nohost"], "bad value for 'master'"),
                        (["--log-level", "loud"], "bad value for 'log_level'"),
                        (["--label", "tier"], "not a label")):
        assert main(["--data-dir", str(tmp_path), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err


def test_process_starts_reports_and_stops_on_sigterm(tmp_path):
    data_dir = tmp_path / "cs"
    master = f"127.0.0.1:{free_port()}"
    log_path = tmp_path / "cs.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mooseng.chunkserver.main", "--data-dir", str(data_dir),
             "--master", master, "--port", "0", "--http-port", "0", "--label", "tier=ssd",
             "--label", "region=eu-west"], stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        ports = wait_for(lambda: (data_dir / "ports.json").exists()
                         and json.loads((data_dir / "ports.json").read_text()), "ports.json")
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}/ready", timeout=5) as r:
            assert r.status == 200
        with grpc.insecure_channel(f"127.0.0.1:{ports['grpc']}") as channel:
            status = pb_grpc.ChunkServerStub(channel).GetStatus(pb.ChunkServerStatusRequest(),
                                                                timeout=5)
        assert dict(status.labels) == {"tier": "ssd", "region": "eu-west"}
        assert status.address == f"127.0.0.1:{ports['grpc']}"
        assert status.server_id == (data_dir / "server_id").read_text().strip()
        wait_for(lambda: "cannot reach the master" in log_path.read_text(),
                 "a warning about the unreachable master")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    text = log_path.read_text()
    started = next(line for line in text.splitlines() if 'msg="chunk server started"' in line)
    assert f"grpc_port={ports['grpc']}" in started and f"http_port={ports['http']}" in started
    assert 'msg="chunk server stopped"' in text
    assert "Traceback" not in text
