@performance @metrics
Feature: Prometheus metrics
  Every daemon exports its metrics under the documented names, prefixed with its component, and
  the values follow what happens in the cluster: the master counts each operation by its
  outcome and keeps its chunk and chunk server gauges current, chunk servers count the bytes
  written to them and read from them.

  Background:
    Given a cluster with a master and 3 chunk servers

  @id.metrics.documented_names @smoke @critical
  Scenario: Every node exports the documented metrics
    Then every node exports these metrics:
      | node         | metric                                      | labels             |
      | master       | mooseng_master_metadata_operations_total    | operation, status  |
      | master       | mooseng_master_chunks                       |                    |
      | master       | mooseng_master_chunks_undergoal             |                    |
      | master       | mooseng_master_chunks_overgoal              |                    |
      | master       | mooseng_master_chunks_missing               |                    |
      | master       | mooseng_master_chunkservers                 | state              |
      | master       | mooseng_build_info                          | version, component |
      | chunk server | mooseng_chunkserver_bytes_written_total     |                    |
      | chunk server | mooseng_chunkserver_bytes_read_total        |                    |
      | chunk server | mooseng_chunkserver_checksum_failures_total |                    |
      | chunk server | mooseng_build_info                          | version, component |
    And every metric a node exports is named after its component
    And every node's build information names its version and component

  @id.metrics.operations_counted @normal
  Scenario: The master counts each metadata operation by its outcome
    When a client creates a directory "/counted" and asks for a file "/counted/missing.txt" that does not exist
    Then the master's operation counters went up by:
      | operation | outcome   | by |
      | Mkdir     | ok        | 1  |
      | GetAttr   | not found | 1  |

  @id.metrics.master_gauges @disruptive @normal
  Scenario: The master's chunk and chunk server gauges follow a lost chunk server
    Given 4 files of 1.5 MB written by a client with goal 3
    When chunk server "chunkserver-1" is killed
    Then the master's metrics show within 5 seconds:
      | gauge                 | value |
      | chunks                | 8     |
      | chunks under goal     | 8     |
      | chunks over goal      | 0     |
      | chunks missing        | 0     |
      | chunk servers online  | 2     |
      | chunk servers offline | 1     |

  @id.metrics.chunkserver_bytes @normal
  Scenario: Chunk servers count the bytes written to them and read from them
    Given a file "/data/counted.bin" of 1.5 MB written by a client with goal 3
    When a client reads "/data/counted.bin"
    Then every chunk server counts the bytes of "/data/counted.bin" as written
    And the chunk servers together count the bytes of "/data/counted.bin" as read
