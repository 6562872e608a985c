@infrastructure @grpc
Feature: gRPC communication between components
  Masters, chunk servers and clients talk gRPC. Every service answers its real client, every
  server carries the standard health service, each kind of bad request gets its exact status
  code, and a deadline is a promise even when the other side stops answering.

  Background:
    Given a cluster with a master and 2 chunk servers

  @id.grpc.services @smoke @critical
  Scenario: Every service answers through its real client
    Then the master's namespace service answers a client creating and listing a directory
    And the master's cluster service answers a client asking for the cluster status
    And the master's registry service has registered every chunk server from its heartbeats
    And every chunk server's service answers a status request with its identity
    And the chunk servers' data service stores and returns a file written by a client

  @id.grpc.health_service @smoke @critical
  Scenario: Every node serves the standard gRPC health service
    Then every node answers the standard gRPC health check as serving for the whole server
    And every node answers the standard gRPC health check as serving for each of its services

  @id.grpc.status_codes @critical
  Scenario: Each kind of bad request is answered with its exact status code
    Given a directory "/docs" holding a file "/docs/readme.txt"
    When a client sends these bad requests:
      | request                                                  | status              | mention    |
      | ask for a file that does not exist                       | NOT_FOUND           | missing    |
      | create a file in a directory that does not exist         | NOT_FOUND           | nowhere    |
      | create a directory that already exists                   | ALREADY_EXISTS      | docs       |
      | create a file whose name is 256 bytes long               | INVALID_ARGUMENT    | 256        |
      | create a file whose path is 1025 bytes long              | INVALID_ARGUMENT    | 1025       |
      | remove a directory that is not empty                     | FAILED_PRECONDITION | docs       |
      | list a file as if it were a directory                    | FAILED_PRECONDITION | readme.txt |
      | set a goal of 5 with only 2 chunk servers                | RESOURCE_EXHAUSTED  | 5          |
      | read a chunk that the chunk server does not store        | NOT_FOUND           | chunk      |
      | write a chunk with fewer bytes than its header announces | INVALID_ARGUMENT    | announced  |
    Then each request is refused with its status code and a message that mentions the culprit

  @id.grpc.damaged_copy_data_loss @critical
  Scenario: A read of a damaged copy is answered with DATA_LOSS and the copy is given up
    Given a file "/data/a.bin" of 64 KB written by a client with goal 2
    And a stored copy of a chunk of the files was corrupted on its chunk server
    When a client reads that copy from its chunk server
    Then the read is answered with DATA_LOSS
    And the chunk server counts a checksum failure within 2 seconds
    And the master no longer counts that copy within 2 seconds

  @id.grpc.deadline_paused_server @disruptive @critical
  Scenario: A deadline is honoured when a chunk server is paused
    When chunk server "chunkserver-1" is paused
    Then a status request to "chunkserver-1" with a 1 second deadline fails with DEADLINE_EXCEEDED within 3 seconds

  @id.grpc.read_around_paused_server @disruptive @critical
  Scenario: A client reads from another copy when the chunk server it asks first is paused
    Given a file "/data/a.bin" of 64 KB written by a client with goal 2
    When the chunk server holding the first copy of "/data/a.bin" is paused
    Then a client with a 2 second timeout reads "/data/a.bin" intact within 10 seconds
