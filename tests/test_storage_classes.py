"""Storage classes: the constraint grammar, matching copies to servers, the planner moving
misplaced copies, the metadata (changelog and snapshot) and a real cluster placing by label."""

import random

import pytest

from mooseng.common import classes
from mooseng.common.classes import StorageClass
from mooseng.common.errors import (AlreadyExists, FailedPrecondition, InvalidArgument, NotFound,
                                   ResourceExhausted)
from mooseng.master import changelog
from mooseng.master.goals import DELETE, MISPLACED, REPLICATE, ChunkView, classify, plan
from mooseng.master.namespace import Namespace
from mooseng.master.placement import ONLINE, Candidate, choose_for

from conftest import wait_for

MiB = 1024 * 1024


@pytest.mark.parametrize("specs, copies", [
    (["2*tier=ssd"], ("tier=ssd", "tier=ssd")),
    (["tier=hdd", "tier=ssd"], ("tier=hdd", "tier=ssd")),
    (["*", "rack=r1&tier=ssd"], ("rack=r1&tier=ssd", "*")),
    (["tier=ssd & rack=r1"], ("rack=r1&tier=ssd",)),
    (["3*"], ("*", "*", "*")),
])
def test_copies_are_parsed_to_one_canonical_constraint_each_most_specific_first(specs, copies):
    assert classes.parse_copies(specs) == copies


def test_a_class_is_described_as_people_write_it():
    assert classes.describe(("tier=ssd", "tier=ssd", "*")) == "2*tier=ssd + 1*any"


@pytest.mark.parametrize("specs, says", [
    (["tier"], "malformed at 'tier'"),
    (["tier=ssd&"], "malformed"),
    (["tier=ssd&tier=hdd"], "two values of 'tier'"),
    (["0*tier=ssd"], "at least 1"),
    (["10*"], "at most 9"),
    ([], "at least one copy"),
])
def test_a_malformed_class_is_refused_saying_why(specs, says):
    with pytest.raises(InvalidArgument, match=says):
        classes.parse_copies(specs)


def test_assignment_finds_a_full_matching_where_a_greedy_choice_would_not():
    holders = {"a": {"tier": "ssd"}, "b": {"tier": "hdd"}}
    # "*" taken by "a" first would leave tier=ssd without a server
    assert classes.assign(("*", "tier=ssd"), holders) == {0: "b", 1: "a"}
    assert classes.unmet(("tier=ssd", "tier=ssd"), holders) == ["tier=ssd"]


def servers(**tiers):
    return {sid: Candidate(sid, ONLINE, 1000, 10, labels={"tier": tier})
            for sid, tier in tiers.items()}


SERVERS = servers(s1="ssd", s2="ssd", h1="hdd", h2="hdd")


def test_new_copies_go_only_to_servers_their_constraint_allows():
    chosen = choose_for(SERVERS.values(), ("tier=ssd", "tier=hdd"))
    assert SERVERS[chosen[0]].labels["tier"] == "ssd"
    assert SERVERS[chosen[1]].labels["tier"] == "hdd"
    # never elsewhere: a third ssd copy has no server left and is left out
    assert sorted(choose_for(SERVERS.values(), ("tier=ssd",) * 3)) == ["s1", "s2"]


def test_a_chunk_on_the_wrong_tier_is_misplaced_and_copied_before_anything_is_dropped():
    chunk = ChunkView(1, 5, 2, {"h1": {5}, "h2": {5}}, wants=("tier=ssd", "tier=ssd"))
    result = plan([chunk], SERVERS)
    assert result.misplaced == 1 and result.undergoal == 0
    assert sorted((a.type, a.server_id) for a in result.actions) == [(REPLICATE, "s1"),
                                                                     (REPLICATE, "s2")]
    moved = ChunkView(1, 5, 2, {"h1": {5}, "h2": {5}, "s1": {5}, "s2": {5}},
                      wants=("tier=ssd", "tier=ssd"))
    result = plan([moved], SERVERS)
    assert sorted((a.type, a.server_id, a.reason) for a in result.actions) == [
        (DELETE, "h1", "misplaced"), (DELETE, "h2", "misplaced")]


def test_half_moved_chunk_keeps_its_misplaced_copy_until_the_right_one_exists():
    chunk = ChunkView(1, 5, 2, {"s1": {5}, "h1": {5}}, wants=("tier=ssd", "tier=ssd"))
    result = plan([chunk], SERVERS, replicating={1: {"s2"}})
    assert result.misplaced == 1 and result.actions == []


def test_misplaced_counts_only_chunks_with_enough_copies():
    assert classify(2, 2, 1) == MISPLACED
    assert classify(2, 1, 0) == "undergoal"
    assert classify(2, 3, 2) == "overgoal"


def test_classes_are_metadata_in_the_changelog_and_the_snapshot():
    ns = Namespace()
    for number, entry in enumerate([
            {"op": "class_create", "name": "cold", "copies": ["*"], "archive_to": "",
             "archive_after": 0.0},
            {"op": "class_create", "name": "hot", "copies": ["tier=ssd", "tier=ssd"],
             "archive_to": "cold", "archive_after": 86400.0},
            {"op": "mkdir", "path": "/d", "parents": False},
            {"op": "setclass", "path": "/d", "storage_class": "hot", "recursive": False},
            {"op": "create", "path": "/d/f", "goal": 2, "exclusive": True,
             "storage_class": "hot"}], start=1):
        changelog.apply(ns, dict(entry, v=number))
    assert ns.inherited("/d/g", 1) == (2, "hot")
    again = Namespace.from_dict(ns.to_dict())
    assert again.classes == ns.classes
    assert again.lookup("/d/f").storage_class == "hot"
    assert again.copies_of(again.lookup("/d/f")) == ("tier=ssd", "tier=ssd")


def test_class_rules_in_the_namespace():
    ns = Namespace()
    ns.define_class(StorageClass("hot", ("tier=ssd", "tier=ssd")), replace=False)
    with pytest.raises(AlreadyExists):
        ns.define_class(StorageClass("hot", ("*",)), replace=False)
    with pytest.raises(NotFound, match="known: hot"):
        ns.define_class(StorageClass("warm", ("*",), "cool", 60.0), replace=False)
    with pytest.raises(InvalidArgument, match="not valid"):
        ns.define_class(StorageClass("2fast", ("*",)), replace=False)
    ns.create("/f", 2, True, 1.0, "hot")
    with pytest.raises(FailedPrecondition, match="in use by 1 "):
        ns.delete_class("hot")
    ns.define_class(StorageClass("hot", ("tier=ssd",) * 3), replace=True)
    assert ns.lookup("/f").goal == 3          # files follow a modified class
    ns.set_goal("/f", 2, False, 2.0)          # a plain goal again: "2 copies, any labels"
    assert ns.lookup("/f").storage_class == "" and ns.copies_of(ns.lookup("/f")) == ("*", "*")
    ns.delete_class("hot")
    assert ns.classes == {}


def test_a_cluster_places_every_copy_by_its_class_and_moves_them_when_it_changes(fresh_cluster):
    """The chunk servers of the test cluster carry rack=r0, r1, r2."""
    client = fresh_cluster.client()
    with pytest.raises(ResourceExhausted, match=r"no chunk server left for rack=r0"):
        client.define_class("twice", ["2*rack=r0"])
    client.define_class("pair", ["rack=r0", "rack=r1"])
    client.mkdir("/pair")
    client.setclass("/pair", "pair")
    client.write_bytes("/pair/f", b"x" * 3000)
    assert client.stat("/pair/f").storage_class == "pair"

    def racks():
        found = client.placement("/pair/f")["chunks"]
        return sorted(c["labels"]["rack"] for chunk in found for c in chunk["copies"])

    assert racks() == ["r0", "r1"]
    client.define_class("pair", ["rack=r1", "rack=r2"], modify=True)
    wait_for(lambda: racks() == ["r1", "r2"] and client.status()["chunks_misplaced"] == 0,
             "the copy on rack r0 moved to rack r2")
    assert client.read_bytes("/pair/f") == b"x" * 3000
    with pytest.raises(FailedPrecondition, match="in use by 2"):
        client.delete_class("pair")


def test_allocation_policies_order_the_servers_as_they_promise():
    racks = {sid: Candidate(sid, ONLINE, 1000, 10, labels={"rack": rack})
             for sid, rack in (("a", "r1"), ("b", "r2"), ("c", "r1"), ("d", "r2"))}
    turns = [choose_for(racks.values(), ("*",), policy="round-robin", turn=t)[0]
             for t in range(8)]
    assert turns == ["a", "b", "c", "d"] * 2
    near = [choose_for(racks.values(), ("*", "*"), policy="locality-aware",
                       near={"rack": "r2"}) for _ in range(10)]
    assert all(sorted(pair) == ["b", "d"] for pair in near)
    spread = {choose_for(racks.values(), ("*",), policy="random", rng=random.Random(seed))[0]
              for seed in range(40)}
    assert spread == {"a", "b", "c", "d"}


def test_the_policy_is_cluster_wide_metadata_and_an_unknown_one_is_refused(fresh_cluster):
    client = fresh_cluster.client()
    assert client.allocation_policy()["policy"] == "least-used"
    with pytest.raises(InvalidArgument, match="unknown allocation policy 'fastest'"):
        client.allocation_policy("fastest")
    assert client.allocation_policy("round-robin")["policy"] == "round-robin"
    fresh_cluster.restart_master()
    assert fresh_cluster.client().allocation_policy()["policy"] == "round-robin"


def test_files_not_modified_for_the_archive_time_move_to_the_archive_class(fresh_cluster):
    client = fresh_cluster.client()
    client.define_class("cold", ["rack=r2"])
    client.define_class("hot", ["rack=r0", "rack=r1"], archive_to="cold", archive_after=1.0)
    client.mkdir("/hot")
    client.setclass("/hot", "hot")
    client.write_bytes("/hot/f", b"y" * 5000)
    wait_for(lambda: client.stat("/hot/f").storage_class == "cold", "the file archived")
    wait_for(lambda: [c["labels"]["rack"] for c in client.placement("/hot/f")["chunks"][0]
                      ["copies"]] == ["r2"], "its one copy on rack r2 alone")
    assert client.read_bytes("/hot/f") == b"y" * 5000
    assert client.stat("/hot").storage_class == "hot"      # the directory keeps its class


def test_moves_for_a_class_change_are_held_to_the_move_rate(tmp_path):
    """20 copies of 1 MiB to move at 2 MiB/s: about two a second, never more than a second's
    worth ahead; restoring a lost copy would not wait (it is not a move)."""
    from mooseng.master.core import MasterCore, Settings

    now = [1000.0]
    core = MasterCore(Settings(data_dir=str(tmp_path), chunk_size=MiB, heartbeat_interval=0.1,
                               offline_timeout=100.0, replication_limit=100,
                               move_rate=2 * MiB), clock=lambda: now[0])
    core.open()
    for sid, tier in (("s1", "ssd"), ("s2", "ssd"), ("h1", "hdd"), ("h2", "hdd")):
        core.register(sid, f"127.0.0.1:{sid}", "", {"tier": tier}, 10**12, 0, [])
    core.define_class(StorageClass("hot", ("tier=ssd", "tier=ssd")), replace=False)
    core.define_class(StorageClass("cold", ("tier=hdd", "tier=hdd")), replace=False)
    core.mkdir("/d", False)
    core.set_class("/d", "hot", False)
    for number in range(10):
        node = core.create(f"/d/f{number}", False, 0)
        grant = core.allocate(node.inode, 0, [])
        core.commit(node.inode, 0, grant.chunk_id, grant.version, grant.lease_id,
                    [sid for sid, _ in grant.chain], MiB, MiB, False)
    core.set_class("/d", "cold", True)
    issued, moved = [], set()
    for second in range(10):
        now[0] += 5.0 if second == 0 else 1.0         # past the start-up grace, then 1 s apart
        core.tick()
        moves = [a for s in core.servers.values() for a in s.commands
                 if a.type == REPLICATE and a.reason == "misplaced"]
        issued.append(len(moves))
        moved.update((a.chunk_id, a.server_id) for a in moves)
        for server in core.servers.values():
            server.commands.clear()
        for move in moves:                             # each target reports its new copy
            core.heartbeat(move.server_id, 10**12, 0, [(move.chunk_id, move.version)], [], [])
    assert len(moved) == 20, f"moves per second: {issued}"
    assert max(issued) <= 3, f"moves per second: {issued}"
    assert core.moves == (20, 20 * MiB) and core.counts().misplaced == 0


def _chunk_counts(client) -> dict[str, int]:
    return {s["id"]: s["chunk_count"] for s in client.chunkservers()}


def test_a_drained_server_holds_nothing_and_can_be_removed_once_stopped(fresh_cluster):
    client = fresh_cluster.client()
    for number in range(4):
        client.write_bytes(f"/f{number}", bytes([number]) * 300_000)
    drained = fresh_cluster.server_id(0)
    client.drain(drained)
    wait_for(lambda: _chunk_counts(client)[drained] == 0, "every copy moved off the server")
    assert [s["state"] for s in client.chunkservers() if s["id"] == drained] == ["draining"]
    for number in range(4):
        stat = client.stat(f"/f{number}")
        assert all(len(c.servers) == 2 and drained not in c.server_ids for c in stat.chunks)
        assert client.read_bytes(f"/f{number}") == bytes([number]) * 300_000
    with pytest.raises(FailedPrecondition, match="is draining: drain it .*, stop it"):
        client.remove_chunkserver(drained)
    fresh_cluster.stop_chunkserver(0)
    wait_for(lambda: [s["state"] for s in client.chunkservers() if s["id"] == drained]
             == ["offline"], "the stopped server offline")
    client.remove_chunkserver(drained)
    assert drained not in _chunk_counts(client)


def test_removing_the_holder_of_a_last_copy_is_refused(fresh_cluster):
    client = fresh_cluster.client()
    client.write_bytes("/single", b"z" * 1000, goal=1)
    (holder,) = client.stat("/single").chunks[0].server_ids
    number = next(n for n in range(3) if fresh_cluster.server_id(n) == holder)
    fresh_cluster.stop_chunkserver(number)
    wait_for(lambda: [s["state"] for s in client.chunkservers() if s["id"] == holder]
             == ["offline"], "the holder offline")
    with pytest.raises(FailedPrecondition, match="holds the only copy of 1 chunks"):
        client.remove_chunkserver(holder)
    with pytest.raises(NotFound, match="no chunk server 'nobody'"):
        client.remove_chunkserver("nobody")
    assert holder in _chunk_counts(client)


def test_maintenance_ends_after_its_time_and_a_silent_server_counts_as_lost(fresh_cluster):
    client = fresh_cluster.client()
    client.write_bytes("/m", b"m" * 1000)
    holder = client.stat("/m").chunks[0].server_ids[0]
    number = next(n for n in range(3) if fresh_cluster.server_id(n) == holder)
    client.set_maintenance(holder, True, seconds=2.0)
    fresh_cluster.stop_chunkserver(number)
    wait_for(lambda: [s["state"] for s in client.chunkservers() if s["id"] == holder]
             == ["offline"], "maintenance over, the silent server offline")
    wait_for(lambda: len(client.stat("/m").chunks[0].servers) == 2
             and holder not in client.stat("/m").chunks[0].server_ids, "its copy made again")


def test_balancing_moves_copies_to_an_empty_server_until_every_one_is_within_ten_percent():
    from mooseng.master import balance

    servers = {sid: Candidate(sid, ONLINE, 10**12, 0, labels={"tier": "hdd"})
               for sid in ("a", "b", "c", "new")}
    chunks = [balance.Held(n, 1, MiB, holders, ("*", "*"))
              for n, holders in enumerate([("a", "b"), ("b", "c"), ("a", "c")] * 10)]
    moves = balance.plan(chunks, servers)
    used = balance.usage(chunks, servers)
    for move in moves:
        used[move.source] -= move.size
        used[move.target] += move.size
    assert {m.target for m in moves} == {"new"}
    assert balance.balanced(used), used
    moved = {m.chunk_id for m in moves}
    assert len(moved) == len(moves)       # each chunk once, so never two copies on one server


def test_balancing_never_breaks_a_class():
    from mooseng.master import balance

    servers = {"s1": Candidate("s1", ONLINE, 10**12, 0, labels={"tier": "ssd"}),
               "s2": Candidate("s2", ONLINE, 10**12, 0, labels={"tier": "ssd"}),
               "h1": Candidate("h1", ONLINE, 10**12, 0, labels={"tier": "hdd"})}
    chunks = [balance.Held(n, 1, MiB, ("s1", "s2"), ("tier=ssd", "tier=ssd"))
              for n in range(10)]
    assert balance.plan(chunks, servers) == []     # h1 is empty, but no ssd copy may go there


def test_balancing_is_refused_while_a_server_is_offline(fresh_cluster):
    client = fresh_cluster.client()
    fresh_cluster.stop_chunkserver(2)
    wait_for(lambda: fresh_cluster.online() == 2, "the stopped server offline")
    with pytest.raises(FailedPrecondition, match="chunk servers offline: .*before balancing"):
        client.balance(apply=True)
    assert client.status()["balancing"] is False
