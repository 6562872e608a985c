@needs.etcd
Feature: Every link of a cluster on TLS
  A cluster can run every link on mutual TLS: clients, masters, chunk servers, the metalogger and
  etcd hold certificates of the cluster's own CA (mooseng admin certs) and accept only peers
  that hold one too. /health and /metrics stay plain HTTP on their own port.

  Background:
    Given a cluster on TLS of 3 masters on etcd, a metalogger and 3 chunk servers

  @id.tls.whole_cluster
  Scenario: A cluster on TLS stores, copies and serves files, and its metalogger follows
    Given 6 files of 1.5 MB written by a client with goal 2
    Then every chunk of the files is stored on exactly 2 chunk servers' disks within 10 seconds
    And every file reads back intact
    And the metalogger has every change within 10 seconds

  @id.tls.failover @disruptive
  Scenario: Leadership moves over TLS when the leader is killed, and nothing acknowledged is lost
    Given 2 clients writing and reading small files of 1 KB to 64 KB at the same time
    And the clients have made 10 acknowledged writes, within 30 seconds
    When the leader is killed while the clients go on
    Then another master leads within 5 seconds
    And the clients make 10 more acknowledged writes within 30 seconds
    And no acknowledged write was lost

  @id.tls.foreign_ca
  Scenario: A chunk server with a certificate of another CA cannot join
    When a chunk server with a certificate of another CA starts
    Then the master lists only the 3 chunk servers of the cluster for 3 seconds
    And the new chunk server's log says its TLS handshake with the master failed
    And the master refuses a caller that trusts the cluster's CA but holds a certificate of another CA

  @id.tls.clients_refused
  Scenario Outline: A client without the cluster's certificate is refused and told what to do
    Then a client <without> is refused, told "<text>"

    Examples:
      | without                                                  | text                     |
      | without a certificate, giving a credential in plain text | give --tls DIR           |
      | with a certificate of another CA                         | the TLS handshake failed |

  @id.tls.data_port
  Scenario: A chunk server's data port speaks only TLS, with a certificate of the cluster's CA
    Then a TLS handshake with "chunkserver-1" shows a certificate issued by the cluster's CA
    And plain text sent to the data port of "chunkserver-1" gets no HTTP/2 answer
