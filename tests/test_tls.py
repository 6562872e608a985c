"""Mutual TLS on every gRPC link: a cluster whose master, chunk servers and client hold
certificates of one CA works as before; a peer of another CA, a plain-text client, an expired
or foreign certificate are refused, each with a clear message."""

import datetime
import socket
import ssl

import pytest

from conftest import LocalCluster, wait_for
from mooseng.common import certs
from mooseng.common.errors import InvalidArgument, MooseNGError
from mooseng.common.tls import SERVER_NAME, Tls


@pytest.fixture
def pki(tmp_path):
    certs.init_ca(str(tmp_path / "ca"))
    other = tmp_path / "other-ca"
    certs.init_ca(str(other))

    def issue(name, ca="ca", **kwargs):
        return str(certs.issue(str(tmp_path / ca), name, str(tmp_path / "nodes" / ca / name),
                               **kwargs))
    return issue


@pytest.fixture
def tls_cluster(tmp_path, pki):
    cluster = LocalCluster(tmp_path / "cluster", master_flags=("--tls", pki("master")))
    cluster.root.mkdir()
    try:
        cluster.start_master()
        for number in range(2):
            cluster.start_chunkserver(number, "--tls", pki(f"chunkserver-{number}"))
        client = cluster.client(tls=pki("client"))
        wait_for(lambda: sum(s["state"] == "online" for s in client.chunkservers()) == 2,
                 "2 chunk servers online over TLS")
        yield cluster, pki
    finally:
        cluster.teardown()


def test_a_cluster_on_tls_writes_replicates_and_reads(tls_cluster):
    cluster, pki = tls_cluster
    client = cluster.clients[0]
    data = bytes(range(256)) * 5000
    client.write_bytes("/secret.bin", data)
    assert client.read_bytes("/secret.bin") == data
    assert len(client.stat("/secret.bin").chunks[0].servers) == 2     # the chain: cs to cs


def test_the_data_port_speaks_tls_with_the_clusters_certificate(tls_cluster):
    cluster, pki = tls_cluster
    address = cluster.chunkservers[0].address
    host, port = address.rsplit(":", 1)
    folder = pki("probe")
    context = ssl.create_default_context(cafile=f"{folder}/ca.crt")
    context.load_cert_chain(f"{folder}/node.crt", f"{folder}/node.key")
    context.set_alpn_protocols(["h2"])
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=SERVER_NAME) as conn:
            assert conn.version() in ("TLSv1.2", "TLSv1.3")
            assert ("commonName", "MooseNG cluster CA") in \
                [item for rdn in conn.getpeercert()["issuer"] for item in rdn]


def test_a_plain_text_client_and_one_of_another_ca_are_refused(tls_cluster):
    cluster, pki = tls_cluster
    for client, why in ((cluster.client(timeout=3.0), "give --tls DIR"),
                        (cluster.client(timeout=3.0, tls=pki("stranger", ca="other-ca")),
                         "the TLS handshake failed .* one cluster CA")):
        with pytest.raises(MooseNGError, match=why):
            client.stat("/")
    assert cluster.clients[0].stat("/").is_dir


def test_a_chunk_server_of_another_ca_does_not_join(tls_cluster):
    cluster, pki = tls_cluster
    cluster.start_chunkserver(2, "--tls", pki("intruder", ca="other-ca"))
    daemon = cluster.chunkservers[2]
    wait_for(lambda: daemon.links[0].last_error, "the intruder to say why it cannot register")
    assert not daemon.links[0].registered
    assert len(cluster.clients[0].chunkservers()) == 2


def test_an_expired_or_foreign_certificate_is_refused_before_anything_starts(pki, tmp_path):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)
    expired = pki("old", not_before=past, days=10)
    with pytest.raises(InvalidArgument, match="node.crt expired on"):
        Tls.load(expired)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    foreign = pki("foreign", ca="other-ca")
    for name, source in (("ca.crt", pki("ours")), ("node.crt", foreign), ("node.key", foreign)):
        (mixed / name).write_bytes((tmp_path / source / name).read_bytes())
    with pytest.raises(InvalidArgument, match="was not issued by the CA"):
        Tls.load(str(mixed))
    with pytest.raises(InvalidArgument, match="cannot read .*ca.crt .No such file"):
        Tls.load(str(tmp_path / "nowhere"))


def test_a_master_with_a_bad_tls_directory_does_not_start(tmp_path, capsys):
    from mooseng.master.main import main

    assert main(["--data-dir", str(tmp_path / "m"), "--tls", str(tmp_path / "none")]) == 2
    assert "mooseng-master: error: TLS directory" in capsys.readouterr().err
