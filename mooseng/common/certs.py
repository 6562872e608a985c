"""A cluster's certificate authority and its nodes' certificates (`mooseng admin certs`), made
with `cryptography`: EC P-256 keys, SHA-256 signatures.

Every node certificate names SERVER_NAME, the name every TLS link of the cluster checks (nodes
are reached at addresses that change: published ports, containers, WAN links), plus the node's
own name; it is good for both ends of a link (mutual TLS). A node's directory holds ca.crt,
node.crt and node.key, what `--tls DIR` reads."""

from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mooseng.common.errors import AlreadyExists, InvalidArgument
from mooseng.common.tls import CA_CERT, NODE_CERT, NODE_KEY, SERVER_NAME

CA_KEY = "ca.key"
DAY = datetime.timedelta(days=1)


def init_ca(directory: str, name: str = "MooseNG cluster CA", days: int = 3650) -> pathlib.Path:
    """A new CA in `directory` (ca.crt, ca.key); refused where one is already."""
    folder = pathlib.Path(directory)
    if (folder / CA_KEY).exists():
        raise AlreadyExists(f"{folder / CA_KEY} exists: a cluster has one CA (remove it to "
                            f"start a new one, and issue every node's certificate again)")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY).not_valid_after(now + days * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / CA_KEY, _key_pem(key), private=True)
    _write(folder / CA_CERT, cert.public_bytes(serialization.Encoding.PEM))
    return folder


def issue(ca_directory: str, name: str, out_directory: str, days: int = 825,
          not_before: datetime.datetime | None = None,
          addresses: Iterable[str] = ()) -> pathlib.Path:
    """A certificate for node `name` signed by the CA in `ca_directory`, written with the CA's
    certificate into `out_directory` (ca.crt, node.crt, node.key). `not_before` moves the
    validity window (a certificate that has already expired, for tests); `addresses` are IP
    addresses it also names (etcd members check their peers by address)."""
    ca_folder = pathlib.Path(ca_directory)
    try:
        ca_key = serialization.load_pem_private_key((ca_folder / CA_KEY).read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate((ca_folder / CA_CERT).read_bytes())
    except FileNotFoundError as error:
        raise InvalidArgument(f"no CA in {ca_folder} ({error.filename} is missing): make one "
                              f"with `mooseng admin certs init {ca_folder}`") from None
    if not name or "/" in name:
        raise InvalidArgument(f"a node name is a plain name, got {name!r}")
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.datetime.now(datetime.timezone.utc) - DAY
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + days * DAY)
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(SERVER_NAME), x509.DNSName(name),
                 *(x509.IPAddress(ipaddress.ip_address(a)) for a in addresses)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_cert.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder = pathlib.Path(out_directory)
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / NODE_KEY, _key_pem(key), private=True)
    _write(folder / NODE_CERT, cert.public_bytes(serialization.Encoding.PEM))
    _write(folder / CA_CERT, ca_cert.public_bytes(serialization.Encoding.PEM))
    return folder


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: pathlib.Path, data: bytes, private: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
