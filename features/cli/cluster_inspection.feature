@cli
Feature: Inspecting a live cluster with the admin CLI
  An administrator asks the `mooseng` command what the cluster looks like and gets readable
  tables, or a machine-readable format for scripts, that agree with what the cluster really
  holds.

  Background:
    Given a cluster with a master and 3 chunk servers

  @id.cli.chunkservers @smoke @normal
  Scenario: The chunk server listing shows every registered chunk server
    When an administrator lists the chunk servers in the machine-readable format
    Then the listing shows 3 chunk servers online with their identities and addresses

  @id.cli.stat_json @normal
  Scenario: A file's details in the machine-readable format agree with what the client sees
    Given a file "/data/report.bin" of 1.5 MB written by a client with goal 2
    When an administrator asks for the details of "/data/report.bin" in the machine-readable format
    Then the details give the size, goal 2 and the copies of each chunk as the client sees them

  @id.cli.error_line @normal
  Scenario: A mistake is reported in one line without a traceback
    When an administrator asks for the details of "/no/such/file"
    Then the command fails with exit code 1 and one error line naming "/no/such/file"

  @id.cli.setgoal_subtree @normal
  Scenario: Setting the goal of a directory tree changes the copies of every file in it
    Given 4 files of 1.5 MB written by a client with goal 2
    When an administrator sets the goal of the directory "/files" and everything in it to 3
    Then every chunk of the files has 3 copies that read back intact from their chunk servers within 20 seconds

  @id.cli.remove_tree @normal
  Scenario: Removing a directory tree removes every file in it and their chunks
    Given 4 files of 1.5 MB written by a client with goal 2
    When an administrator removes the directory "/files" and everything in it
    Then "/files" no longer exists
    And no chunk server stores a chunk of "/files" within 10 seconds

  @id.cli.json_everywhere @normal
  Scenario: Every command answers in the machine-readable format
    Given a file "/data/report.bin" of 64 KB written by a client with goal 2
    When an administrator runs each of these commands in the machine-readable format:
      | command                     |
      | status                      |
      | chunkservers                |
      | fs ls                       |
      | fs stat                     |
      | fs mkdir                    |
      | fs put                      |
      | fs get                      |
      | fs mv                       |
      | fs setgoal                  |
      | fs rm                       |
      | class create                |
      | class list                  |
      | fs setclass                 |
      | class show                  |
      | admin placement             |
      | class delete                |
      | admin allocation-policy     |
      | chunkserver maintenance     |
      | chunkserver maintenance off |
      | admin balance               |
      | admin repair                |
      | bench                       |
    Then each command succeeds with a machine-readable answer that agrees with the cluster
