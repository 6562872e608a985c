"""The dashboard's sampler and HTTP side against an in-process cluster: /api/ answers, the event
stream pushes samples, rates come from real counters, a master restart is survived, a port in
use is one clear error."""

import json
import re
import socket
import urllib.error
import urllib.request

import pytest

from mooseng.bench.store import ResultStore, Run, WorkloadResult
from mooseng.cli.main import main
from mooseng.dashboard.sampler import Sampler
from mooseng.dashboard.server import Dashboard

from conftest import wait_for


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.headers.get("Content-Type"), reply.read()


@pytest.fixture
def board(cluster, tmp_path):
    dashboard = Dashboard(Sampler(cluster.master_address, str(tmp_path / "bench.db"), timeout=2.0))
    port = dashboard.start("127.0.0.1", 0)
    yield dashboard, f"http://127.0.0.1:{port}"
    dashboard.stop()


def test_page_and_its_assets_come_from_the_dashboard_itself(board):
    _, url = board
    status, kind, page = get(url + "/")
    assert status == 200 and kind.startswith("text/html")
    for asset in ("/static/dashboard.js", "/static/dashboard.css"):
        assert asset.encode() in page
        assert get(url + asset)[0] == 200
    assert all(ref.startswith(b"/") for ref in re.findall(rb'(?:src|href)="([^"]*)"', page))


def test_cluster_endpoint_names_checks_and_every_chunk_server(board, cluster):
    _, url = board
    body = json.loads(get(url + "/api/cluster")[2])
    assert body["master"]["reachable"] is True
    assert {c["name"] for c in body["status"]["checks"]} >= {"chunkservers", "replication",
                                                              "data", "metadata"}
    ids = {s["id"] for s in body["chunkservers"]}
    assert ids == {cluster.server_id(n) for n in range(3)}
    assert all(s["metrics_reachable"] for s in body["chunkservers"])


def test_written_bytes_show_as_write_throughput(board, cluster):
    dashboard, url = board
    cluster.client().write_bytes("/dash-rate", b"x" * (2 * 1024 * 1024))
    wait_for(lambda: any(p["write_mb_s"] > 0 for p in json.loads(get(url + "/api/throughput")[2])),
             "a throughput sample with written bytes")


def test_a_new_leader_is_never_compared_with_the_old_one(tmp_path, monkeypatch):
    """After a failover the master's metrics come from another address: the first reading
    there starts the new leader's rate instead of being subtracted from the old leader's."""
    counters = {"10.0.0.1:9423": 1000.0, "10.0.0.2:9423": 5000.0}
    monkeypatch.setattr("mooseng.dashboard.sampler.scrape", lambda address: {
        "mooseng_master_metadata_operations_total": counters[address]})
    sampler = Sampler("127.0.0.1:1", str(tmp_path / "b.db"), timeout=1.0)
    try:
        sampler._scrape({"10.0.0.1:9423": "master"}, 1.0)
        counters["10.0.0.1:9423"] += 10
        assert sampler._scrape({"10.0.0.1:9423": "master"}, 2.0)[1]["metadata_ops_s"] == 10
        assert sampler._scrape({"10.0.0.2:9423": "master"}, 3.0)[1]["metadata_ops_s"] == 0
        counters["10.0.0.2:9423"] += 20
        assert sampler._scrape({"10.0.0.2:9423": "master"}, 4.0)[1]["metadata_ops_s"] == 20
    finally:
        sampler.client.close()


def test_event_stream_pushes_new_samples(board):
    _, url = board
    with urllib.request.urlopen(url + "/api/events", timeout=10) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        times, event = [], None
        while len(times) < 2:
            line = stream.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "cluster":
                times.append(json.loads(line[6:])["cluster"]["time"])
    assert times[1] > times[0]


def test_an_idle_event_stream_is_kept_open_with_comments(cluster, tmp_path, monkeypatch):
    """With no new sample, the stream sends keep-alive comments and stays open."""
    monkeypatch.setattr("mooseng.dashboard.server.KEEPALIVE", 0.05)
    dashboard = Dashboard(Sampler(cluster.master_address, str(tmp_path / "b.db"), timeout=2.0))
    sent: list[bytes] = []

    def write(data: bytes) -> None:
        sent.append(data)
        if sent.count(b": keepalive\n\n") == 3:
            raise BrokenPipeError     # the page went away
    try:
        with pytest.raises(BrokenPipeError):
            dashboard.events(write)     # the sampler never runs: every wait is idle
    finally:
        dashboard.sampler.client.close()
    assert sent[0].startswith(b"event: cluster") and sent[-1] == b": keepalive\n\n"


def test_unknown_endpoint_and_workload_say_what_exists(board):
    _, url = board
    for path, expected in (("/api/nothing", "/api/cluster"), ("/api/trends/nope", "seq_write")):
        with pytest.raises(urllib.error.HTTPError) as raised:
            get(url + path)
        assert raised.value.code == 404
        assert expected in json.loads(raised.value.read())["error"]


def test_benchmarks_without_a_database_say_how_to_make_one(board):
    _, url = board
    body = json.loads(get(url + "/api/benchmarks")[2])
    assert body["runs"] == [] and "mooseng bench run" in body["error"]


def test_stored_runs_and_trends_are_served(board, tmp_path):
    _, url = board
    with ResultStore(str(tmp_path / "bench.db"), create=True) as store:
        for rates in ([10.0, 12.0, 11.0], [20.0, 22.0, 21.0]):
            store.add(Run(None, 1.0, "quick", 3, "0.1.0", "abc", {}, {"masters": 1,
                          "chunkservers": 3, "goal": 2, "chunk_size": 1}, {},
                          {"seq_write": WorkloadResult("seq_write", "MB/s", rates,
                                                       {"p99": 0.01})}))
    runs = json.loads(get(url + "/api/benchmarks")[2])["runs"]
    assert [r["workloads"]["seq_write"]["median"] for r in runs] == [21.0, 11.0]
    points = json.loads(get(url + "/api/trends/seq_write")[2])["points"]
    assert [p["median"] for p in points] == [11.0, 21.0]


def test_a_restarted_master_is_unreachable_then_found_again(fresh_cluster, tmp_path):
    sampler = Sampler(fresh_cluster.master_address, str(tmp_path / "bench.db"), timeout=1.0)
    try:
        sampler.sample()
        assert sampler.cluster["master"]["reachable"]
        port = int(fresh_cluster.master_address.rsplit(":", 1)[1])
        fresh_cluster.master.stop()
        sampler.sample()
        assert not sampler.cluster["master"]["reachable"]
        assert "cannot reach the master" in sampler.cluster["master"]["error"]
        assert len(sampler.cluster["chunkservers"]) == 3        # the last known, kept
        fresh_cluster.start_master(port)

        def found():
            sampler.sample()
            return sampler.cluster["master"]["reachable"]
        wait_for(found, "the dashboard to reach the restarted master")
    finally:
        sampler.stop()


def test_a_port_in_use_is_refused_with_what_to_do(cluster, tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["--master", cluster.master_address, "dashboard", "--port", str(port),
                     "--db", str(tmp_path / "bench.db")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [f"mooseng: error: port {port} on 127.0.0.1 is already in use: choose another "
                   "with --port (fix the argument and try again)"]
