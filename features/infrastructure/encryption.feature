@needs.etcd
Feature: Every link of a cluster on TLS
  A cluster can run every link on mutual TLS: clients, masters, chunk servers, the metalogger and
  etcd hold certificates of the cluster's own CA (mooseng admin certs) and accept only peers
  that hold one too. /health and /metrics stay plain HTTP on their own port.

  @id.tls.whole_cluster
  Scenario: A cluster on TLS stores, copies and serves files, and its metalogger follows
    Given a cluster on TLS of 3 masters on etcd, a metalogger and 3 chunk servers
    And 6 files of 1.5 MB written by a client with goal 2
    Then every chunk of the files is stored on exactly 2 chunk servers' disks within 10 seconds
    And every file reads back intact
    And the metalogger has every change within 10 seconds

  @id.tls.failover @disruptive
  Scenario: Leadership moves over TLS when the leader is killed, and nothing acknowledged is lost
    Given a cluster on TLS of 3 masters on etcd, a metalogger and 3 chunk servers
    And 2 clients writing and reading small files of 1 KB to 64 KB at the same time
    And the clients have made 10 acknowledged writes, within 30 seconds
    When the leader is killed while the clients go on
    Then another master leads within 5 seconds
    And the clients make 10 more acknowledged writes within 30 seconds
    And no acknowledged write was lost

  @id.tls.foreign_ca
  Scenario: A chunk server with a certificate of another CA cannot join
    Given a cluster on TLS of 3 masters on etcd, a metalogger and 3 chunk servers
    When a chunk server with a certificate of another CA starts
    Then the master lists only the 3 chunk servers of the cluster for 3 seconds
    And the new chunk server's log says its TLS handshake with the master failed
    And the master refuses a caller that trusts the cluster's CA but holds a certificate of another CA

  @id.tls.clients_refused
  Scenario Outline: A client without the cluster's certificate is refused and told what to do
    Given a cluster on TLS of 3 masters on etcd, a metalogger and 3 chunk servers
    Then a client <without> is refused, told "<text>"

    Examples:
      | without                                                  | text                     |
      | without a certificate, giving a credential in plain text | give --tls DIR           |
      | with a certificate of another CA                         | the TLS handshake failed |

  @id.tls.data_port
  Scenario: A chunk server's data port speaks only TLS, with a certificate of the cluster's CA
    Given a cluster on TLS of 3 masters on etcd, a metalogger and 3 chunk servers
    Then a TLS handshake with "chunkserver-1" shows a certificate issued by the cluster's CA
    And plain text sent to the data port of "chunkserver-1" gets no HTTP/2 answer

  @id.tls.regions @regions @needs.regions
  Scenario: Across regions on TLS, with a master and an etcd member in each, a file written in one region is read in another
    Given a cluster on TLS spread over these regions, a master in each, the leader in the first:
      | region   | chunk servers | WAN delay ms | etcd members |
      | us-east  | 1             | 85           | 1            |
      | eu-west  | 1             | 180          | 1            |
      | ap-south | 1             | 120          | 1            |
    And the administrator created the storage class "global" with the copies "region=us-east region=eu-west region=ap-south"
    When a client in "eu-west" writes 2 files of 1.5 chunks into the directory "/global" of the storage class "global"
    Then within 30 seconds every chunk of those files has these copies per region, counted on the chunk servers' disks:
      | region   | copies |
      | us-east  | 1      |
      | eu-west  | 1      |
      | ap-south | 1      |
    And a client in "ap-south" reads every one of those files as written
