@tiers
Feature: Storage tiers: hot data on fast chunk servers, moved when its class changes or it goes cold
  Chunk servers carry a tier label. A storage class keeps its files' copies on one tier; giving
  a directory another class moves its chunks to the other tier in the background, within the
  master's move rate, while clients go on reading them; a class with an archive rule moves files
  nobody modified for its time to the archive class. Copies are counted on the chunk servers'
  disks, against the labels each server was started with.

  Background:
    Given a cluster with a master and chunk servers labelled:
      | tier |
      | ssd  |
      | ssd  |
      | hdd  |
      | hdd  |
    And the administrator created these storage classes:
      | class | copies     |
      | cold  | 2*tier=hdd |
      | hot   | 2*tier=ssd |

  @id.tiers.hot_on_hot
  Scenario: Files of the hot class live on the hot tier only
    When a client writes 5 files of 2.5 chunks into the directory "/hot" of the storage class "hot"
    Then every copy of every chunk of those files is on a chunk server labelled "tier=ssd"
    And the cluster status shows no chunk under goal for 3 seconds

  @id.tiers.class_change_moves @critical
  Scenario: Giving a directory another class moves its chunks to the new tier while clients read them
    Given 8 files of 3 chunks written into the directory "/data" of the storage class "hot"
    When the administrator sets the storage class of "/data" and everything in it to "cold" while a client keeps reading the files
    Then every copy of every chunk of those files is on a chunk server labelled "tier=hdd" within 60 seconds
    And every read during the move returned the data written
    And the allocation efficiency is attached to the report

  @id.tiers.archive
  Scenario: Files nobody modified for the archive time move to the archive class
    Given the administrator created the storage class "warm" with the copies "2*tier=ssd" that archives to "cold" after 2 seconds
    When a client writes 3 files of 1 MB into the directory "/warm" of the storage class "warm"
    Then within 30 seconds every one of those files has the storage class "cold" and every copy on a chunk server labelled "tier=hdd"
