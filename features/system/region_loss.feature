@regions @needs.regions @needs.etcd @needs.kill
Feature: A whole region lost: the others keep serving, leadership moves to a region with an etcd majority, the region catches up when it returns
  Every region runs a master, chunk servers and one etcd member, so that losing any one region
  leaves two of the three etcd members, a majority, in the others: their masters elect a leader
  among themselves. With etcd in fewer regions than that, losing the wrong one stops every write
  until it returns. Losing a region is every node in it killed at once, as a power cut would.
  Masters and chunk servers reach other regions through the WAN links; etcd members reach each
  other directly.

  Background:
    Given a cluster spread over these regions, a master in each, the leader in the first:
      | region   | chunk servers | WAN delay ms | etcd members |
      | us-east  | 2             | 85           | 1            |
      | eu-west  | 2             | 180          | 1            |
      | ap-south | 1             | 120          | 1            |
    And the administrator created the storage class "global" with the copies "2*region=us-east region=eu-west region=ap-south"

  @id.regions.leader_region_lost @critical
  Scenario: The leader's region is lost: a master of another region leads within 10 seconds, writes go on, and the region catches up when it is back
    When a client in "eu-west" writes 2 files of 1.5 chunks into the directory "/global" of the storage class "global"
    And every node of the region "us-east" is lost at once
    Then within 10 seconds a master outside "us-east" leads
    When a client in "eu-west" writes 2 files of 1.5 chunks into the directory "/global" of the storage class "global"
    Then a client in "ap-south" reads every one of those files as written
    When every node of the region "us-east" is back
    Then within 90 seconds every chunk of those files has these copies per region, counted on the chunk servers' disks:
      | region   | copies |
      | us-east  | 2      |
      | eu-west  | 1      |
      | ap-south | 1      |
    And within 30 seconds the master in "us-east" follows the leader, 0 entries behind
