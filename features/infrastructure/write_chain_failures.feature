@infrastructure @write_chain
Feature: Writes through a chain of chunk servers that fail
  A client writes each chunk through a chain of chunk servers. A chain member that fails is
  left out and the write goes on with the others; when no chunk server is left, the write is
  refused with an error that names the chunk servers that failed, and nothing is acknowledged.

  @id.chain.every_member_failed @disruptive @critical
  Scenario: A write that every chunk server of its chain failed is refused, naming them
    Given a cluster with a master and 1 chunk server that the master marks offline only after 60 seconds
    And chunk server "chunkserver-1" was killed while the master still lists it online
    When a client tries to write a file "/data/lost.bin" of 64 KB with goal 1
    Then the write is refused as unavailable, naming "chunkserver-1" as a chunk server that failed
