@allocation
Feature: Block allocation follows storage classes and the allocation policy
  A storage class names how many copies a file's chunks get and, for each copy, the labels of
  the chunk servers that may hold it ("2*tier=ssd", or "tier=ssd tier=hdd"). The master puts
  every new copy on a chunk server whose labels satisfy its copy, never two copies on one
  server, and refuses a class the chunk servers cannot meet instead of placing a copy elsewhere.
  A cluster-wide allocation policy chooses among the allowed servers. Where the copies are is
  checked on the chunk servers' disks, against the labels each server was started with.

  Background:
    Given a cluster with a master and chunk servers labelled:
      | tier | rack |
      | ssd  | r1   |
      | ssd  | r2   |
      | hdd  | r1   |
      | hdd  | r2   |

  @id.allocation.class_places_copies @critical
  Scenario Outline: A storage class puts every copy on chunk servers with the labels it names
    Given the administrator created the storage class "<class>" with the copies "<copies>"
    When a client writes 3 files of 2.5 chunks into the directory "/<class>" of the storage class "<class>"
    Then every copy of every chunk of those files is on a chunk server labelled as the class wants: <labels>

    Examples:
      | class | copies             | labels                   |
      | hot   | 2*tier=ssd         | tier=ssd; tier=ssd       |
      | mixed | tier=ssd tier=hdd  | tier=ssd; tier=hdd       |
      | racks | rack=r1 rack=r2    | rack=r1; rack=r2         |
      | one   | tier=hdd&rack=r2 * | tier=hdd,rack=r2; any    |
      | all   | 4*                 | any; any; any; any       |

  @id.allocation.unsatisfiable
  Scenario Outline: A class the chunk servers cannot meet is refused with the reason, and nothing changes
    When the administrator creates the storage class "<class>" with the copies "<copies>"
    Then the command fails with exit code 1 and one error line naming "<reason>"
    And the cluster has no storage class "<class>"

    Examples:
      | class | copies            | reason                              |
      | fast  | 3*tier=ssd        | no chunk server left for tier=ssd   |
      | nvme  | tier=nvme         | no chunk server left for tier=nvme  |
      | wide  | 5*                | no chunk server left for *          |
      | bad   | tier              | label expression 'tier' is malformed |
      | both  | tier=ssd&tier=hdd | two values of 'tier'                |

  @id.allocation.mistakes
  Scenario: Mistakes with storage classes are refused with one clear line each, changing nothing
    Given the administrator created the storage class "hot" with the copies "2*tier=ssd"
    And 1 files of 1 MB written into the directory "/hot" of the storage class "hot"
    When an administrator makes these mistakes:
      | command                            | error names                       |
      | class delete hot                   | in use by 2                       |
      | class create hot 1*                | already exists                    |
      | class modify hot 3*tier=ssd        | no chunk server left for tier=ssd |
      | fs setclass warm /hot -r           | no storage class 'warm'           |
      | class show warm                    | no storage class 'warm'           |
      | admin allocation-policy fastest    | unknown allocation policy         |
      | class create cool * --archive-to x | archive rule needs both           |
    Then each mistake failed with exit code 1 and one error line naming its culprit
    And the storage class "hot" still has the copies "2*tier=ssd" and is used by 2

  @id.allocation.policies
  Scenario Outline: Each allocation policy spreads new chunks as it promises
    Given the allocation policy is "<policy>"
    When a client on rack "r1" writes 40 files of one chunk with goal 1
    Then <promise>

    Examples:
      | policy         | promise                                                                     |
      | least-used     | the chunk servers hold the 40 chunks evenly, each within one chunk of an even share |
      | round-robin    | the chunk servers hold the 40 chunks evenly, each within one chunk of an even share |
      | random         | every chunk server holds some of the 40 chunks                              |
      | locality-aware | every chunk is on a chunk server on rack "r1"                               |

  @id.allocation.balance
  Scenario: Balancing after adding an empty chunk server brings every server within 10 % of the mean
    Given 24 files of 1 chunk written by a client with goal 2
    And a new chunk server labelled "tier=hdd,rack=r1" joined the cluster
    When the administrator looks at the balancing the CLI proposes, then applies it
    Then every online chunk server holds within 10 % of the mean number of copies on its disk within 60 seconds
    And every file reads back intact
