@system @files
Feature: End-to-end file operations
  A client creates, reads, writes, overwrites, appends, renames, lists and deletes files on a
  running cluster; what it reads is always exactly what was written, whatever the file's size,
  and a mistake gets an error that says what is wrong.

  Background:
    Given a cluster with a master and 3 chunk servers
    And a directory "/docs"

  @id.files.create_and_read @smoke @blocker
  Scenario: A new file reads back exactly as written
    When a client writes the text "hello, moose" to a new file "/docs/hello.txt"
    Then "/docs/hello.txt" reads back as the text "hello, moose"
    And the listing of "/docs" shows "hello.txt" as a file of 12 bytes

  @id.files.empty @normal
  Scenario: An empty file has no chunks and reads as nothing
    When a client creates an empty file "/docs/empty"
    Then "/docs/empty" is a file of 0 bytes with no chunks
    And "/docs/empty" reads back as nothing

  @id.files.multi_chunk @critical
  Scenario: A file larger than a chunk is split into chunks that all reach the goal
    When a client writes a file "/docs/big.bin" of 3.5 chunks
    Then "/docs/big.bin" has 4 chunks
    And every chunk of "/docs/big.bin" has 2 copies on different chunk servers
    And "/docs/big.bin" reads back intact

  @id.files.overwrite @critical
  Scenario: Overwriting a file replaces its whole content
    Given a file "/docs/report.bin" of 200 KB written by a client with goal 2
    When a client overwrites "/docs/report.bin" with 100 KB of new data
    Then "/docs/report.bin" reads back intact
    And "/docs/report.bin" is a file of 100 KB

  @id.files.write_in_place @critical
  Scenario: Writing into the middle of a file changes only those bytes
    Given a file "/docs/report.bin" of 200 KB written by a client with goal 2
    When a client writes 10 KB of new data into "/docs/report.bin" at 50 KB
    Then "/docs/report.bin" holds the old data with the new 10 KB at 50 KB
    And "/docs/report.bin" is a file of 200 KB

  @id.files.append @critical
  Scenario: Appending adds data at the end
    Given a file "/docs/log.bin" of 100 KB written by a client with goal 2
    When a client appends 50 KB of new data to "/docs/log.bin"
    Then "/docs/log.bin" holds the old data followed by the new data
    And "/docs/log.bin" is a file of 150 KB

  @id.files.rename @critical
  Scenario: A renamed file keeps its content under the new name only
    Given a file "/docs/draft.bin" of 64 KB written by a client with goal 2
    And a directory "/archive"
    When a client renames "/docs/draft.bin" to "/archive/final.bin"
    Then "/archive/final.bin" reads back with the content "/docs/draft.bin" had
    And "/docs/draft.bin" no longer exists

  @id.files.delete @critical
  Scenario: A deleted file is gone, and so are its chunks on every chunk server
    Given a file "/docs/old.bin" of 2.5 MB written by a client with goal 2
    When a client deletes "/docs/old.bin"
    Then "/docs/old.bin" no longer exists
    And no chunk server stores a chunk of "/docs/old.bin" within 10 seconds

  @id.files.large_directory @normal
  Scenario: Listing a large directory returns every entry
    Given a directory "/many" holding 1200 empty files
    When a client lists "/many"
    Then the listing has 1200 entries, each file named once

  @id.files.data_sets @critical
  Scenario Outline: A <data set> file of <size> reads back intact
    When a client writes a <data set> file "/docs/data.bin" of <size>
    Then "/docs/data.bin" reads back intact
    And "/docs/data.bin" has the size that was written
    And every chunk of "/docs/data.bin" has 2 copies on different chunk servers

    Examples: small files
      | data set | size   |
      | small    | 1 KB   |
      | small    | 64 KB  |

    Examples: medium files
      | data set | size   |
      | medium   | 1 MB   |
      | medium   | 100 MB |

    @slow
    Examples: large files
      | data set | size   |
      | large    | 1 GB   |

  @id.files.bad_input @critical
  Scenario: A mistake gets an error that says what is wrong
    Given a file "/docs/inside/page.txt" of 1 KB written by a client with goal 2
    When a client makes these mistakes:
      | mistake                                           | error               | mention     |
      | asks for a file that does not exist               | not found           | missing.txt |
      | creates a file in a directory that does not exist | not found           | nowhere     |
      | creates a file whose name is 256 bytes long       | invalid argument    | 256         |
      | creates a file whose path is 1025 bytes long      | invalid argument    | 1025        |
      | removes a directory that is not empty             | failed precondition | inside      |
      | creates a directory that already exists           | already exists      | inside      |
      | sets a goal of 4 with only 3 chunk servers        | resource exhausted  | 4           |
      | creates the root directory                        | already exists      | root        |
    Then each mistake is refused with its error and a message that mentions the culprit

  @id.files.no_valid_copy_data_loss @disruptive @critical
  Scenario: A file whose chunk has no valid copy left reads as data loss
    Given a file "/docs/single.bin" of 64 KB written by a client with goal 1
    When every chunk server holding a copy of "/docs/single.bin" is killed
    Then a client reading "/docs/single.bin" is refused with data loss within 5 seconds

  @id.files.no_chunkserver_online @disruptive @normal
  Scenario: Writing while no chunk server is online is refused as resource exhausted
    When every chunk server is killed
    Then a client writing a new file "/docs/nowhere.bin" is refused with resource exhausted within 5 seconds
