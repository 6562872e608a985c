"""Exports: the rules file, what each rule lets a client do, and a master enforcing them
(refusals change nothing; a bad file on reload leaves the rules in force)."""

import pytest

from mooseng.common.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from mooseng.master.exports import Exports, ExportsError, hash_secret

SECRET = hash_secret("open sesame")
RULES = f"""
# network      subtree    options
127.0.0.0/8    /          rw,admin
10.1.0.0/16    /projects  rw
10.1.0.0/16    /          ro
10.2.0.0/16    /vault     rw,secret={SECRET}
"""
LOCAL, OFFICE, LAB, ELSEWHERE = "ipv4:127.0.0.1:5000", "ipv4:10.1.2.3:5000", \
    "ipv4:10.2.0.9:5000", "ipv4:192.168.7.7:5000"


def exports() -> Exports:
    return Exports.parse(RULES, "exports.cfg")


@pytest.mark.parametrize("text, reason", [
    ("10.0.0.0/33 / rw", "exports.cfg:1: not a network"),
    ("\n# fine\n10.0.0.0/8 data rw", "exports.cfg:3: the subtree must be an absolute path"),
    ("10.0.0.0/8 / rw,root", "exports.cfg:1: unknown option 'root'"),
    ("10.0.0.0/8 / rw,secret=open-sesame", "exports.cfg:1: secret= wants the scrypt:SALT:HASH"),
    ("10.0.0.0/8 /", "exports.cfg:1: a rule is NETWORK SUBTREE OPTIONS, got 2 fields"),
    ("# nothing\n", "exports.cfg: no rule: every client would be refused"),
])
def test_a_malformed_file_is_refused_naming_the_line_and_the_reason(text, reason):
    with pytest.raises(ExportsError, match=reason.replace("(", r"\(")):
        Exports.parse(text, "exports.cfg")


def test_a_client_outside_every_rule_is_denied_naming_its_address():
    with pytest.raises(PermissionDenied, match="client 192.168.7.7 matches no export rule"):
        exports().admit(ELSEWHERE, "", "GetAttr", ["/"])


def test_a_read_only_rule_allows_reads_and_refuses_writes_outside_its_writable_subtree():
    rules = exports()
    rules.admit(OFFICE, "", "ReadDir", ["/"])
    rules.admit(OFFICE, "", "Create", ["/projects/a/new.bin"])
    for operation, paths in (("Create", ["/elsewhere.bin"]), ("Remove", ["/projects"]),
                             ("Rename", ["/projects/a", "/a"]), ("SetGoal", ["/projecting"])):
        with pytest.raises(PermissionDenied, match="writing /.* is not allowed for client "
                                                   "10.1.2.3"):
            rules.admit(OFFICE, "", operation, paths)


def test_admin_commands_need_the_admin_option():
    exports().admit(LOCAL, "", "SetMaintenance", [])
    with pytest.raises(PermissionDenied, match="admin commands are not allowed for client "
                                               "10.1.2.3"):
        exports().admit(OFFICE, "", "DefineClass", [])


def test_a_rule_with_a_secret_counts_only_for_a_client_giving_that_secret():
    rules = exports()
    with pytest.raises(Unauthenticated, match="none was given: pass --credential"):
        rules.admit(LAB, "", "GetAttr", ["/vault"])
    with pytest.raises(Unauthenticated, match="the one given is wrong"):
        rules.admit(LAB, "open barley", "GetAttr", ["/vault"])
    rules.admit(LAB, "open sesame", "Create", ["/vault/gold"])
    rules.admit(LAB, "open sesame", "Create", ["/vault/silver"])   # remembered: no scrypt
    with pytest.raises(PermissionDenied, match="reading /other is not allowed"):
        rules.admit(LAB, "open sesame", "GetAttr", ["/other"])


def test_the_secret_is_stored_only_as_a_salted_hash():
    first, second = hash_secret("open sesame"), hash_secret("open sesame")
    assert first != second and "open sesame" not in first
    with pytest.raises(InvalidArgument):
        hash_secret("")


def test_without_a_file_only_loopback_clients_are_served():
    default = Exports.default()
    default.admit(LOCAL, "", "DrainChunkServer", [])
    default.admit("ipv6:[::1]:5000", "", "Create", ["/x"])
    with pytest.raises(PermissionDenied):
        default.admit(OFFICE, "", "GetAttr", ["/"])


def test_a_master_refuses_what_its_exports_forbid_and_nothing_changes(fresh_cluster, tmp_path):
    client = fresh_cluster.client()
    client.write_bytes("/kept.bin", b"k" * 10)
    master = fresh_cluster.master
    master.service.exports = Exports.parse("127.0.0.0/8 / ro", "test")
    for attempt in (lambda: client.write_bytes("/new.bin", b"n"),
                    lambda: client.remove("/kept.bin"),
                    lambda: client.rename("/kept.bin", "/moved.bin"),
                    lambda: client.set_maintenance("nobody")):
        with pytest.raises(PermissionDenied, match="client 127.0.0.1"):
            attempt()
    assert client.read_bytes("/kept.bin") == b"k" * 10
    master.service.exports = Exports.default()
    with pytest.raises(NotFound):
        client.stat("/new.bin")
    assert [e.name for e in client.listdir("/")] == ["kept.bin"]


def test_a_reload_takes_a_good_file_and_keeps_the_rules_in_force_after_a_bad_one(
        fresh_cluster, tmp_path, caplog):
    master = fresh_cluster.master
    path = tmp_path / "exports.cfg"
    master.config.exports = str(path)
    path.write_text("127.0.0.0/8 / ro\n")
    master.reload()
    assert master.service.exports.source == str(path)
    path.write_text("127.0.0.0/8 / ro\n127.0.0.0/8 / rw,wrong\n")
    master.reload()
    assert master.service.exports.rules[0].writable is False and \
        len(master.service.exports.rules) == 1
    assert f"{path}:2: unknown option 'wrong'" in caplog.text


def test_a_master_does_not_start_with_a_malformed_exports_file(tmp_path, capsys):
    from mooseng.master.main import main

    path = tmp_path / "exports.cfg"
    path.write_text("127.0.0.0/8 / rw\n10.0.0.0/8 /data rx\n")
    assert main(["--data-dir", str(tmp_path / "m"), "--exports", str(path)]) == 2
    assert f"{path}:2: unknown option 'rx'" in capsys.readouterr().err
