@infrastructure @configuration
Feature: Daemon settings
  Every setting of a master or a chunk server can be given on its command line, in its
  environment or in its configuration file. A wrong setting stops the daemon at once with one
  line that names it, so that no daemon ever runs on settings its operator did not mean.

  Background:
    Given a cluster with a master and 1 chunk server

  @id.config.bad_setting_refused @critical
  Scenario Outline: A <daemon> with a bad "<setting>" <where> stops with one line naming it
    When a <daemon> is started with the setting "<setting>" set to "<value>" <where>
    Then it stops within 10 seconds with exit code 2 and one error line naming "<setting>"

    Examples:
      | daemon       | setting         | value | where                     |
      | master       | port            | 70000 | on its command line       |
      | master       | colour          | blue  | in its configuration file |
      | master       | offline_timeout | 0.1   | in its environment        |
      | chunk server | http_port       | -1    | in its configuration file |
      | chunk server | scrub_interval  | soon  | in its environment        |

  @id.config.precedence @normal
  Scenario Outline: A setting given in several places is taken from the <winner>
    When a chunk server is started with the setting "scrub_interval" set to <values>
    Then it stops within 10 seconds with exit code 2 and one error line naming "<named>"

    Examples:
      | winner       | values                                                                                    | named |
      | environment  | "soon" in its configuration file and "later" in its environment                           | later |
      | command line | "soon" in its configuration file, "later" in its environment and "now" on its command line | now   |
