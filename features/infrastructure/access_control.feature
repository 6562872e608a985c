Feature: Exports decide which clients may use which subtree, and the data path cannot go around them
  A master serves a client only as its exports file allows: networks, a subtree, read-only or
  read-write, an optional secret, and admin rights. What is refused changes nothing. A chunk
  server stores data only under a lease token one of its masters signed, so a client cannot
  write around the master.

  Background:
    Given a cluster with a master and 3 chunk servers
    And a file "/team/plan.bin" of 100 KB written by a client with goal 2

  @id.access.allowed_network
  Scenario: A client from an exported network reads and writes in its subtree
    Given the master's exports are:
      | network             | subtree | access     | admin | secret |
      | the suite's clients | /team   | read-write | no    |        |
    When a client writes a file "/team/notes.bin" of 200 KB with goal 2
    Then "/team/notes.bin" reads back intact
    And "/team/plan.bin" reads back intact

  @id.access.other_network
  Scenario Outline: A client from a network no rule names is refused and nothing changes
    Given the master's exports are:
      | network      | subtree | access     | admin | secret |
      | 10.99.0.0/16 | /       | read-write | yes   |        |
    When a client tries to <attempt>
    Then it is refused as permission denied, naming the client's address
    And the master's metadata did not change

    Examples:
      | attempt                               |
      | read "/team/plan.bin"                 |
      | write a new file "/team/new.bin"      |
      | remove "/team/plan.bin"               |

  @id.access.read_only
  Scenario Outline: A read-only export refuses every change and changes nothing
    Given the master's exports are:
      | network             | subtree | access    | admin | secret |
      | the suite's clients | /       | read-only | no    |        |
    When a client tries to <attempt>
    Then it is refused as permission denied, saying "writing <path> is not allowed"
    And the master's metadata did not change
    And "/team/plan.bin" reads back intact

    Examples:
      | attempt                                       | path           |
      | write a new file "/team/new.bin"              | /team/new.bin  |
      | overwrite "/team/plan.bin"                    | /team/plan.bin |
      | rename "/team/plan.bin" to "/team/moved.bin"  | /team/plan.bin |
      | remove "/team/plan.bin"                       | /team/plan.bin |
      | make the directory "/team/sub"                | /team/sub      |
      | set goal 3 on "/team/plan.bin"                | /team/plan.bin |

  @id.access.subtree
  Scenario: A client may change only the subtree exported to it read-write
    Given the master's exports are:
      | network             | subtree | access     | admin | secret |
      | the suite's clients | /team   | read-write | no    |        |
      | the suite's clients | /       | read-only  | no    |        |
    When a client tries to write a new file "/elsewhere.bin"
    Then it is refused as permission denied, saying "writing /elsewhere.bin is not allowed"
    And the master's metadata did not change

  @id.access.credential
  Scenario: A rule with a secret serves only the clients that give it
    Given the master's exports are:
      | network             | subtree | access     | admin | secret      |
      | the suite's clients | /team   | read-write | no    | open sesame |
    Then a client giving no credential is refused reading "/team/plan.bin" as unauthenticated
    And a client giving the credential "open barley" is refused reading "/team/plan.bin" as unauthenticated
    And a client giving the credential "open sesame" reads "/team/plan.bin" intact
    And the master's log does not contain "open sesame"

  @id.access.admin_right
  Scenario: Admin commands need the admin right
    Given the master's exports are:
      | network             | subtree | access     | admin | secret |
      | the suite's clients | /       | read-write | no    |        |
    When the administrator tries to put "chunkserver-1" in maintenance
    Then the command fails with exit code 1 and one error line naming "admin commands are not allowed"
    And the master keeps listing "chunkserver-1" online for 1 seconds

  @id.access.bad_exports
  Scenario: A malformed exports file is refused on reload and the rules in force stay
    Given the master's exports are:
      | network             | subtree | access     | admin | secret |
      | the suite's clients | /team   | read-write | no    |        |
    When the operator gives the master an exports file whose line 2 is "10.0.0.0/33 / rw" and has it read it again
    Then the master's log says ":2: not a network"
    When a client writes a file "/team/after.bin" of 100 KB with goal 2
    And a client tries to write a new file "/other.bin"
    Then "/team/after.bin" reads back intact
    And it is refused as permission denied, saying "writing /other.bin is not allowed"

  @id.access.lease_token
  Scenario Outline: A chunk server stores nothing written without a lease the master signed
    When a client sends chunk data straight to "chunkserver-1" with <token>
    Then "chunkserver-1" refuses it as permission denied and stores nothing of it

    Examples:
      | token                                            |
      | no lease token                                   |
      | a lease token signed with a key of its own       |
      | a lease token the master gave for another chunk  |
