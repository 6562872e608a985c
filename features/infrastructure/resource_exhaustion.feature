@needs.small_disk
Feature: A chunk server whose disk fills up
  Disks fill up, with chunks or with other programs' files. A chunk server whose disk has no
  room left for a chunk says so in its health, the master puts no new copy on it, a write it
  cannot take completes on other chunk servers, and nothing acknowledged is lost. Once space is
  freed, it takes copies again.

  Background:
    Given a cluster with a master and 4 chunk servers, each with a disk of 64 MB

  @id.disk.fills_under_load
  Scenario: A disk filling up under a write load loses no acknowledged write
    Given 3 clients writing and reading medium files of 1 MB to 1.2 MB at the same time
    And the clients have made 10 acknowledged writes, within 30 seconds
    When the disk of "chunkserver-4" fills up while the clients go on
    Then the health of "chunkserver-4" becomes degraded within 5 seconds with the check "storage" saying "full"
    And the master lists "chunkserver-4" as full within 5 seconds
    And the clients make 20 more acknowledged writes within 60 seconds
    And no file written after the master listed "chunkserver-4" as full has a copy on it
    And no acknowledged write was lost
    And no client read back wrong data

  @id.disk.write_completes_elsewhere
  Scenario: A write the full chunk server cannot take completes on the other copies
    Given a file "/held.bin" of 300 KB written by a client with goal 2
    When the disk of a chunk server holding "/held.bin" fills up
    And a client appends 300 KB of new data to "/held.bin"
    Then "/held.bin" holds the old data followed by the new data
    And that chunk server refused a write for lack of space
    And every chunk of the files has 2 copies, none on that chunk server, within 10 seconds

  @id.disk.no_new_copy
  Scenario: The master puts no new copy on a full chunk server
    Given the disk of "chunkserver-4" filled up and the master listed it as full
    When a client writes a file "/later.bin" of 2 chunks with goal 4
    Then every chunk of "/later.bin" has 3 copies, none on "chunkserver-4"
    And "chunkserver-4" refused no write for lack of space

  @id.disk.serves_reads
  Scenario: A full chunk server keeps serving the copies it holds
    Given 6 files of 1 MB written by a client with goal 4
    When the disk of "chunkserver-4" fills up
    Then every copy on "chunkserver-4" of every chunk of the files reads back intact from it

  @id.disk.space_freed
  Scenario: A chunk server takes new copies again once space is freed on its disk
    Given the disk of "chunkserver-4" filled up and the master listed it as full
    When the other files on the disk of "chunkserver-4" are removed
    Then the master no longer lists "chunkserver-4" as full within 5 seconds
    And the health of "chunkserver-4" becomes healthy within 5 seconds
    When a client writes a file "/after.bin" of 2 chunks with goal 4
    Then every chunk of "/after.bin" has 4 copies on different chunk servers
