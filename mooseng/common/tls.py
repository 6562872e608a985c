"""Mutual TLS on a cluster's gRPC links: every node (and client) holds a certificate of the
cluster's CA and accepts only peers with one (`mooseng admin certs`). Links check the name
SERVER_NAME, which every node certificate carries, rather than addresses, which change between
published ports, containers and WAN links."""

from __future__ import annotations

import dataclasses
import datetime
import pathlib

import grpc

from mooseng.common.errors import InvalidArgument

SERVER_NAME = "mooseng-cluster"
CA_CERT, NODE_CERT, NODE_KEY = "ca.crt", "node.crt", "node.key"


@dataclasses.dataclass(frozen=True)
class Tls:
    directory: str
    ca: bytes
    cert: bytes
    key: bytes

    @classmethod
    def load(cls, directory: str) -> "Tls":
        """The files of `directory`, checked: present, the certificate signed by the CA and
        valid now. Says what is wrong and how to mend it."""
        folder = pathlib.Path(directory)
        try:
            files = [(folder / name).read_bytes() for name in (CA_CERT, NODE_CERT, NODE_KEY)]
        except OSError as error:
            raise InvalidArgument(f"TLS directory {folder}: cannot read {error.filename} "
                                  f"({error.strerror}); make it with `mooseng admin certs "
                                  f"issue CA_DIR NAME {folder}`") from None
        tls = cls(str(folder), *files)
        tls._check()
        return tls

    def _check(self) -> None:
        from cryptography import x509

        try:
            ca = x509.load_pem_x509_certificate(self.ca)
            cert = x509.load_pem_x509_certificate(self.cert)
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError) as error:
            raise InvalidArgument(f"TLS directory {self.directory}: {NODE_CERT} is not a "
                                  f"certificate signed by {CA_CERT} ({error})") from None
        except Exception as error:  # noqa: BLE001 - cryptography's InvalidSignature
            raise InvalidArgument(f"TLS directory {self.directory}: {NODE_CERT} was not issued "
                                  f"by the CA in {CA_CERT} ({type(error).__name__})") from None
        now = datetime.datetime.now(datetime.timezone.utc)
        if cert.not_valid_after_utc < now:
            raise InvalidArgument(f"TLS directory {self.directory}: {NODE_CERT} expired on "
                                  f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; issue a new "
                                  f"one with `mooseng admin certs issue`")
        if cert.not_valid_before_utc > now:
            raise InvalidArgument(f"TLS directory {self.directory}: {NODE_CERT} is valid only "
                                  f"from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.key, self.cert)], root_certificates=self.ca,
                                           require_client_auth=True)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(self.ca, self.key, self.cert)


def load(directory: str) -> Tls | None:
    """Tls of `directory`, or None (plain text) when it is empty."""
    return Tls.load(directory) if directory else None
