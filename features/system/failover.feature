@system @failover @needs.etcd
Feature: Master failover on etcd
  Three masters share the cluster's metadata through etcd: one leads, the others apply the same
  changelog. When the leader dies, stops or stalls, another master takes over without anyone
  restarting clients or chunk servers, and nothing the cluster acknowledged is lost. A leader
  that lost its lease acknowledges nothing more. etcd itself survives the loss of one member;
  without a majority, changes are refused rather than allowed to diverge.

  Background:
    Given a cluster of 3 masters on etcd and 3 chunk servers

  @id.failover.leader_killed @critical @disruptive
  Scenario: Another master takes over when the leader is killed under load, and nothing acknowledged is lost
    Given 4 clients writing and reading small files of 1 KB to 64 KB at the same time
    And the clients have made 6 acknowledged writes, within 60 seconds
    When the leader is killed while the clients go on
    Then another master leads within 1 second
    And the clients make 12 more acknowledged writes within 60 seconds
    And no client read back wrong data
    And no acknowledged write was lost
    And the failover time is attached to the report

  @id.failover.clean_handover @critical @disruptive
  Scenario: A leader stopped cleanly hands over without a failed request
    Given 4 clients writing and reading small files of 1 KB to 64 KB at the same time
    And the clients have made 6 acknowledged writes, within 60 seconds
    When the leader is stopped cleanly while the clients go on
    Then another master leads within 0.5 seconds
    And the clients make 12 more acknowledged writes within 60 seconds
    And no client request failed after the leader was stopped
    And no acknowledged write was lost

  @id.failover.paused_leader @blocker @disruptive
  Scenario: A paused leader that resumes after another master took over acknowledges nothing and follows
    Given 4 clients writing and reading small files of 1 KB to 64 KB at the same time
    And the clients have made 6 acknowledged writes, within 60 seconds
    When the leader is paused until another master leads
    And the old leader is resumed
    Then for 3 seconds the old leader acknowledges no change sent to it
    And the old leader follows the new one within 5 seconds
    And the clients make 12 more acknowledged writes within 60 seconds
    And no acknowledged write was lost

  @id.failover.partitioned_leader @blocker @disruptive @needs.one_sided_cut
  Scenario: A leader cut off from the cluster stops acknowledging and the majority side keeps serving
    Given 4 clients writing and reading small files of 1 KB to 64 KB at the same time
    And the clients have made 6 acknowledged writes, within 60 seconds
    When the leader is cut off from etcd, the other masters and the chunk servers while the clients go on
    Then another master leads within 5 seconds
    And for 3 seconds the old leader acknowledges no change sent to it
    And the clients make 12 more acknowledged writes within 60 seconds
    When the cut heals
    Then the old leader follows the new one within 10 seconds
    And no acknowledged write was lost

  @id.failover.etcd_member_lost @critical @disruptive
  Scenario Outline: An etcd member that <role>, <fault>, changes nothing the clients can see
    Given 4 clients writing and reading small files of 1 KB to 64 KB at the same time
    And the clients have made 6 acknowledged writes, within 60 seconds
    When an etcd member that <role> is <fault>
    Then the leader stays the same for 3 seconds
    And every master's health becomes degraded within 5 seconds with the check "etcd" naming the lost member
    And the clients make 12 more acknowledged writes within 60 seconds
    And no acknowledged write was lost

    Examples:
      | role       | fault  |
      | leads etcd | killed |
      | leads etcd | paused |
      | follows    | killed |

  @id.failover.etcd_majority_lost @blocker @disruptive
  Scenario: Without an etcd majority changes are refused, and service resumes when etcd is back
    Given 4 files of 100 KB written by a client with goal 2
    When etcd members "etcd-1" and "etcd-2" are killed
    Then for 3 seconds every change is refused as UNAVAILABLE
    And every master's health becomes critical within 10 seconds with the check "leadership"
    When the killed etcd members are started again
    Then changes are acknowledged again within 20 seconds
    And every master has applied the same metadata within 10 seconds
    And every file reads back intact

  @id.failover.status_names_roles @normal
  Scenario: The cluster status names the leader, the followers with their lag and the etcd members
    When an administrator asks for the cluster status in the machine-readable format
    Then within 5 seconds the status names the leader and 2 followers at most 0 entries behind
    And the status lists 3 etcd members, all up
