"""A cluster on TLS: what its links accept and refuse, and what is on the wire."""

import pathlib
import socket
import ssl

import grpc

import support.steptypes  # noqa: F401 - registers {x:Q}
from behave import given, then, when
from hamcrest import assert_that, contains_string, equal_to, is_in

from mooseng.client import Client
from mooseng.common.errors import MooseNGError
from mooseng.common.tls import SERVER_NAME

from support import reporting, rpc, world as worlds
from support.rpc import pb, pb_grpc
from support.waiting import throughout, within


@given("a cluster on TLS of {masters:d} masters on etcd, a metalogger and {count:d} chunk "
       "servers")
def step_tls_cluster(context, masters, count):
    context.world.start_cluster(worlds.topology(count, masters=masters, metaloggers=1, tls=True))


@when("a chunk server with a certificate of another CA starts")
def step_intruder(context):
    world = context.world
    node = world.cluster.add_chunkserver(start=False)
    world.cluster.give_foreign_certificate(node)
    world.history.fault(f"{node.name} starts with a certificate of another CA")
    node.start()
    world.remembered["intruder"] = node


@then("the master lists only the {count:d} chunk servers of the cluster for {seconds:g} seconds")
def step_only_ours(context, count, seconds):
    world = context.world
    throughout(seconds, lambda: len(rpc.chunkservers(world.cluster.leader().address)),
               f"{count} chunk servers listed", until=lambda listed: listed == count)


@then('the new chunk server\'s log says its TLS handshake with the master failed')
def step_intruder_log(context):
    node = context.world.remembered["intruder"]
    within(10, lambda: "handshake failed" in node.logs().lower(),
           f"{node.name}'s log to say why it cannot register")


@then('a client {without} is refused, told "{text:Q}"')
def step_client_refused(context, without, text):
    world = context.world
    cluster = world.cluster
    tls = {"without a certificate, giving a credential in plain text": lambda: "",
           "with a certificate of another CA": lambda: str(cluster.pki.foreign("stranger"))
           }[without]()
    client = Client(cluster.master_address_in(""), timeout=3.0,
                    address_map=cluster.address_map(), tls=tls, credential="open sesame")
    try:
        client.stat("/")
        raise AssertionError(f"a client {without} was served")
    except MooseNGError as error:
        assert_that(str(error), contains_string(text))
    finally:
        client.close()


@then("the master refuses a caller that trusts the cluster's CA but holds a certificate of "
      "another CA")
def step_master_refuses_foreign(context):
    """Not a MooseNG client (that one refuses to start with such a directory): a raw gRPC call,
    as an intruder who copied the cluster's public CA certificate would make."""
    world = context.world
    cluster = world.cluster
    ours, theirs = pathlib.Path(cluster.client_tls), cluster.pki.foreign("intruder")
    credentials = grpc.ssl_channel_credentials((ours / "ca.crt").read_bytes(),
                                               (theirs / "node.key").read_bytes(),
                                               (theirs / "node.crt").read_bytes())
    address = cluster.leader().address
    with grpc.secure_channel(address, credentials, options=[
            ("grpc.ssl_target_name_override", SERVER_NAME)]) as channel:
        try:
            pb_grpc.MasterStub(channel).ListChunkServers(pb.ListChunkServersRequest(),
                                                         timeout=5)
        except grpc.RpcError as error:
            assert_that(error.code(), equal_to(grpc.StatusCode.UNAVAILABLE), error.details())
            return
    raise AssertionError("the master answered a caller holding a certificate of another CA")


@then('a TLS handshake with "{name:Q}" shows a certificate issued by the cluster\'s CA')
def step_handshake(context, name):
    world = context.world
    folder = world.cluster.client_tls
    host, port = world.node(name).address.rsplit(":", 1)
    tls = ssl.create_default_context(cafile=f"{folder}/ca.crt")
    tls.load_cert_chain(f"{folder}/node.crt", f"{folder}/node.key")
    tls.set_alpn_protocols(["h2"])
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with tls.wrap_socket(raw, server_hostname=SERVER_NAME) as conn:
            issuer = {key: value for rdn in conn.getpeercert()["issuer"] for key, value in rdn}
            reporting.attach_text(f"{name}: {conn.version()}, cipher {conn.cipher()[0]}, "
                                  f"issuer {issuer}", "TLS handshake")
            assert_that(conn.version(), is_in(["TLSv1.2", "TLSv1.3"]))
            assert_that(issuer.get("commonName"), equal_to("MooseNG cluster CA"))


@then('plain text sent to the data port of "{name:Q}" gets no HTTP/2 answer')
def step_plain_text(context, name):
    host, port = context.world.node(name).address.rsplit(":", 1)
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(preface + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        try:
            answer = conn.recv(64)
        except (ConnectionResetError, socket.timeout):
            answer = b""
    # an HTTP/2 server answers the preface with a SETTINGS frame (type 4 in the 4th byte)
    assert not (len(answer) >= 4 and answer[3] == 4), f"it answered HTTP/2: {answer!r}"
