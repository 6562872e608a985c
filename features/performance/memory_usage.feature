@performance @memory
Feature: Memory usage under load
  Daemons and clients keep to their memory budgets: a chunk server does not hold on to the data
  it stores or streams, the master's memory grows by a bounded amount per file, and a client's
  metadata cache keeps to its entry bound. The sizes follow -D data_scale; the resident memory
  measured is attached to the report.

  Background:
    Given a cluster with a master and 3 chunk servers

  @id.memory.chunkserver_flat @normal
  Scenario: A chunk server's memory does not grow with the data written and read through it
    Given a client has written 256 MB in files of 64 MB with goal 3 and read every file back
    And the resident memory of every node is noted
    When a client writes 1 GB in files of 64 MB with goal 3 and reads every file back
    Then no chunk server's resident memory grew by more than 32 MB
    And the resident memory of every node before and after is attached to the report

  @id.memory.master_per_file @normal
  Scenario Outline: The master's memory per file stays within its budget: <files> files
    Given the resident memory of every node is noted
    When 16 clients together create <files> empty files
    Then the master's resident memory grew by at most 2 KB per file
    And the resident memory of every node before and after is attached to the report

    Examples:
      | files |
      | 10000 |

    @slow
    Examples: the plan's figure
      | files  |
      | 100000 |

  @id.memory.client_cache_bound @normal
  Scenario: A client's metadata cache keeps to its entry bound
    Given a second client whose metadata cache holds at most 1000 entries
    When the second client asks for 5000 names that do not exist
    Then the second client's cache holds at most 1000 entries and counts evictions
