"""Three masters on a real 3-member etcd: one leads, the others follow the changelog, clients
and chunk servers follow the leader, and a leader that lost its lease acknowledges nothing."""

import os
import shutil
import signal
import time

import pytest

from conftest import CHUNK_SIZE, HEARTBEAT, OFFLINE_TIMEOUT, _ports, wait_for
from mooseng.common.config import load
from mooseng.common.errors import NotLeader
from mooseng.proto import mooseng_pb2 as pb
from mooseng.bench.hacluster import ETCD_MISSING, EtcdMembers
from mooseng.master.etcd import b64
from mooseng.master.ha import HEAD, METALOGGERS, log_key

pytestmark = pytest.mark.skipif(shutil.which("etcd") is None, reason=ETCD_MISSING)


class HaCluster:
    def __init__(self, root):
        self.root = root
        self.etcd = EtcdMembers(root)
        self.masters = {}
        self.addresses = {}
        self.chunkservers = []
        self.clients = []

    def start(self, last_etcd="", last_flags=()):
        """`last_etcd`, `last_flags`: where the last master reaches etcd, and its own flags."""
        from mooseng.chunkserver.main import ChunkServerConfig
        from mooseng.chunkserver.server import ChunkServerDaemon

        self.etcd.start()
        for number in (1, 2):
            self.start_master(f"master-{number}")
        self.start_master("master-3", etcd=last_etcd, flags=last_flags)
        for number in range(3):
            data_dir = self.root / f"cs{number}"
            config = load(ChunkServerConfig, [
                "--data-dir", str(data_dir), "--master", self.master_list, "--port", "0",
                "--http-port", "0"])
            daemon = ChunkServerDaemon(config)
            daemon.start()
            self.chunkservers.append(daemon)
        wait_for(lambda: all(all(link.registered for link in cs.links)
                             for cs in self.chunkservers), "every chunk server registered")

    def start_master(self, name, port=0, etcd="", flags=()):
        from mooseng.master.main import MasterConfig
        from mooseng.master.server import MasterServer

        data_dir = self.root / name
        data_dir.mkdir(exist_ok=True)
        (data_dir / "ports.json").unlink(missing_ok=True)
        config = load(MasterConfig, [
            "--data-dir", str(data_dir), "--port", str(port), "--http-port", "0",
            "--heartbeat-interval", str(HEARTBEAT), "--offline-timeout", str(OFFLINE_TIMEOUT),
            "--chunk-size", str(CHUNK_SIZE), "--etcd", etcd or self.etcd.endpoints, "--name", name,
            *flags])
        master = MasterServer(config)
        master.start()
        self.masters[name] = master
        self.addresses[name] = f"127.0.0.1:{_ports(data_dir)['grpc']}"

    @property
    def master_list(self):
        return ",".join(self.addresses[n] for n in sorted(self.addresses))

    def leader(self):
        leading = [n for n, m in self.masters.items() if m and m.ha.leading]
        return leading[0] if len(leading) == 1 else None

    def client(self, **kwargs):
        from mooseng.client import Client

        client = Client(self.master_list, timeout=10.0, **kwargs)
        self.clients.append(client)
        return client

    def teardown(self):
        for client in self.clients:
            client.close()
        for daemon in self.chunkservers:
            daemon.stop()
        for master in self.masters.values():
            if master:
                master.stop()
        self.etcd.stop()


@pytest.fixture
def ha(tmp_path):
    cluster = HaCluster(tmp_path)
    try:
        cluster.start()
        wait_for(cluster.leader, "one master to lead")
        yield cluster
    finally:
        cluster.teardown()


def test_one_leader_followers_apply_and_refuse_with_its_address(ha):
    leader = ha.leader()
    client = ha.client()
    client.write_bytes("/a.bin", b"x" * 1000)
    client.mkdir("/dir")
    version = ha.masters[leader].core.state.version
    for name, master in ha.masters.items():
        wait_for(lambda: master.core.state.version == version, f"{name} to apply every entry")
        assert master.core.state.lookup("/a.bin").size == 1000
    follower = next(n for n in ha.masters if n != leader)
    with pytest.raises(NotLeader) as refused:
        ha.masters[follower].ha.require_leader()
    assert refused.value.leader == ha.addresses[leader]
    status = client.status()
    assert status["role"] == "leader" and status["leader"] == ha.addresses[leader]
    assert sorted(m["name"] for m in status["masters"]) == ["master-1", "master-2", "master-3"]
    assert all(member["ok"] for member in status["etcd"])


def test_a_client_given_a_follower_first_is_sent_to_the_leader(ha):
    leader = ha.leader()
    follower = next(n for n in ha.masters if n != leader)
    from mooseng.client import Client

    client = Client(ha.addresses[follower], timeout=10.0)
    ha.clients.append(client)
    client.write_bytes("/via-follower.bin", b"y" * 10)
    assert client.master_address == ha.addresses[leader]
    assert client.read_bytes("/via-follower.bin") == b"y" * 10


def test_a_clean_stop_of_the_leader_hands_over_at_once(ha):
    client = ha.client()
    client.write_bytes("/before.bin", b"b" * 100)
    old = ha.leader()
    began = time.time()
    ha.masters[old].stop()
    ha.masters[old] = None
    new = wait_for(ha.leader, "another master to lead")
    handover = ha.masters[new].ha.leading_since - began
    assert new != old
    client.write_bytes("/after.bin", b"a" * 100)
    assert client.read_bytes("/before.bin") == b"b" * 100
    assert handover < 1.0, f"handover took {handover:.2f} s; a lease expiry would take >= 1 s"


def test_a_leader_that_lost_its_lease_acknowledges_nothing_and_follows(ha):
    client = ha.client()
    client.write_bytes("/kept.bin", b"k" * 100)
    old = ha.leader()
    master = ha.masters[old]
    master.ha.etcd.revoke(master.ha._lease)      # what a lease expiry does, at once
    with pytest.raises(NotLeader):
        master.core.mkdir("/never", False)
    wait_for(lambda: ha.leader() not in (None, old), "another master to lead")
    assert not master.ha.leading
    new = ha.masters[ha.leader()]
    wait_for(lambda: master.core.state.version == new.core.state.version,
             "the old leader to follow the new one")
    for core in (master.core, new.core):
        with pytest.raises(Exception):
            core.state.lookup("/never")
    assert client.read_bytes("/kept.bin") == b"k" * 100


@pytest.mark.parametrize("loss", ["killed", "silent"])
def test_losing_the_etcd_leader_moves_no_master_leadership(ha, loss):
    """etcd elects a leader of its own within about a second and extends every lease; the
    leading master rides that out instead of giving up its lease. A killed member refuses
    connections; a silent one (stopped, as a killed container's address) lets them hang."""
    client = ha.client()
    client.write_bytes("/before.bin", b"b" * 100)
    old = ha.leader()
    since = ha.masters[old].ha.leading_since
    members = ha.masters[old].ha.etcd.member_health()
    etcd_leader, = [name for name, (port, _) in ha.etcd.ports.items()
                    for endpoint, _, detail in members
                    if endpoint.endswith(f":{port}") and "leader True" in detail]
    if loss == "killed":
        ha.etcd.kill(etcd_leader)
    else:
        os.killpg(ha.etcd.processes[etcd_leader].pid, signal.SIGSTOP)
    written, began = 0, time.monotonic()
    while time.monotonic() - began < 3.0:
        client.write_bytes(f"/during-{written}.bin", bytes([written % 256]) * 100)
        written += 1
    assert ha.leader() == old and ha.masters[old].ha.leading_since == since, \
        f"{old} stopped leading when etcd lost its leader {etcd_leader}"
    for number in range(written):
        assert client.read_bytes(f"/during-{number}.bin") == bytes([number % 256]) * 100
    assert client.read_bytes("/before.bin") == b"b" * 100


def test_a_commit_whose_answer_was_lost_is_acknowledged_once(ha):
    """A member can carry out the leader's transaction and die before answering; the try on
    the next member then finds the head moved by the first try, which is no reason to stop
    leading."""
    from etcd3gw import exceptions as etcd_errors

    client = ha.client()
    client.mkdir("/before")
    old = ha.leader()
    etcd = ha.masters[old].ha.etcd
    lost = []
    for member in etcd._clients:
        def answer_lost(url, *args, post=member.post, **kwargs):
            reply = post(url, *args, **kwargs)
            if url.endswith("/kv/txn") and not lost and reply.get("succeeded"):
                lost.append(url)
                raise etcd_errors.ConnectionFailedError("the member died before answering")
            return reply
        member.post = answer_lost
    since = ha.masters[old].ha.leading_since
    client.mkdir("/answer-lost")
    assert lost, "no transaction of the leader's lost its answer"
    assert ha.leader() == old and ha.masters[old].ha.leading_since == since
    version = ha.masters[old].core.state.version
    entry, _ = etcd.get(log_key(version))
    head, _ = etcd.get(HEAD)
    assert b"/answer-lost" in entry and head == str(version).encode()
    client.mkdir("/after")
    assert ha.leader() == old


def test_followers_answer_every_client_call_with_the_leader(ha):
    leader = ha.leader()
    follower = next(n for n in ha.masters if n != leader)
    import grpc

    from mooseng.proto import mooseng_pb2_grpc as pb_grpc

    with grpc.insecure_channel(ha.addresses[follower]) as channel:
        stub = pb_grpc.MasterStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Mkdir(pb.MkdirRequest(path="/x"), timeout=5)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert dict(refused.value.trailing_metadata())["mooseng-leader"] == \
            ha.addresses[leader]
        assert stub.GetClusterStatus(pb.ClusterStatusRequest(), timeout=5).role == "follower"


def _master(tmp_path, *flags):
    from mooseng.master.main import MasterConfig
    from mooseng.master.server import MasterServer

    return MasterServer(load(MasterConfig, ["--data-dir", str(tmp_path / "other"), "--port", "0",
                                            "--http-port", "0", *flags]))


def test_a_master_of_another_cluster_is_refused(ha, tmp_path):
    master = _master(tmp_path, "--etcd", ha.etcd.endpoints, "--cluster-id", "elsewhere")
    with pytest.raises(OSError) as refused:
        master.start()
    master.stop()
    assert "serves MooseNG cluster 'mooseng'" in str(refused.value)
    assert "configured for 'elsewhere'" in str(refused.value)


def test_an_unreachable_etcd_is_one_clear_error(tmp_path):
    master = _master(tmp_path, "--etcd", "127.0.0.1:1")
    with pytest.raises(OSError) as refused:
        master.start()
    master.stop()
    assert str(refused.value).startswith("cannot reach etcd at 127.0.0.1:1")
    assert "start etcd or check --etcd" in str(refused.value)


def test_a_leader_unsure_of_its_lease_serves_nothing_and_commands_nothing(ha):
    """As after a pause longer than the lease: until a refresh succeeds again it must neither
    answer (a stale read) nor send chunk servers commands planned on a stale view."""
    master = ha.masters[ha.leader()]
    server_id = next(iter(master.core.servers))
    master.core.servers[server_id].commands.append(object())
    master.ha._deadline = 0.0
    with pytest.raises(NotLeader):
        master.ha.require_leader()
    commands, _ = master.core.heartbeat(server_id, 1, 0, [], [], [])
    assert commands == [] and master.core.servers[server_id].commands == []


def test_mooseng_status_lists_the_masters_and_etcd_members(ha, capsys):
    from mooseng.cli.main import main

    assert main(["--master", ha.master_list, "status"]) == 0
    out = capsys.readouterr().out
    leader = ha.leader()
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("master-")}
    assert sorted(rows) == ["master-1", "master-2", "master-3"]
    assert rows[leader][3] == "LEADER" and sum(r[3] == "FOLLOWER" for r in rows.values()) == 2
    assert "ETCD MEMBER" in out and out.count(" up ") == 3
    assert out.count("leader True") == 1 and out.count("leader False") == 2   # etcd's own leader


def test_bench_failover_measures_on_its_own_cluster_and_removes_it(capsys):
    import glob
    import json
    import tempfile

    from mooseng.cli.main import main

    before = set(glob.glob(f"{tempfile.gettempdir()}/mooseng-bench-ha-*"))
    assert main(["bench", "failover", "--rounds", "1", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["rounds"] == 1 and len(result["each_s"]) == 1
    assert 0 < result["median_s"] == result["max_s"] < 30
    assert "round 1/1" in captured.err
    assert set(glob.glob(f"{tempfile.gettempdir()}/mooseng-bench-ha-*")) == before


def test_a_metalogger_is_listed_with_its_lag_and_a_silent_one_degrades_health(ha, tmp_path,
                                                                             capsys):
    from mooseng.metalogger.main import MetaloggerConfig
    from mooseng.metalogger.server import Metalogger

    metalogger = Metalogger(load(MetaloggerConfig, [
        "--data-dir", str(tmp_path / "ml"), "--etcd", ha.etcd.endpoints, "--http-port", "0",
        "--name", "ml-1"]))
    metalogger.start()
    client = ha.client()
    client.mkdir("/d")
    leader = ha.masters[ha.leader()]

    def check():
        return next(c for c in leader.checks() if c.name == "metaloggers")

    try:
        listed = wait_for(lambda: [m for m in client.status()["metaloggers"]
                                   if m["lag_entries"] == 0], "the metalogger up to date")
        assert listed[0]["name"] == "ml-1" and check().status == "healthy"
        from mooseng.cli.main import main
        assert main(["--master", ha.master_list, "status"]) == 0
        row = next(line.split() for line in capsys.readouterr().out.splitlines()
                   if line.startswith("ml-1"))
        assert row[2] == "0" and row[3].endswith("s")          # NAME VERSION LAG REPORTED
    finally:
        metalogger.stop()
    wait_for(lambda: client.status()["metaloggers"] == [], "a clean stop to withdraw it")
    # one that died leaves its last report behind, growing old
    leader.ha.etcd.post("/kv/put", {"key": b64(METALOGGERS + "ml-2"), "value": b64(
        '{"id": "ml-2", "version": 1, "time": %f}' % (time.time() - 30))})
    degraded = wait_for(lambda: (lambda c: c if c.status == "degraded" else None)(check()),
                        "the masters' health degraded by the silent metalogger")
    assert "ml-2 (version 1, no report for 30." in degraded.message
