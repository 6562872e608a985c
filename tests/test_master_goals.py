"""Goal accounting: under / over / missing counts and the commands that fix them."""

from mooseng.master.goals import DELETE, REPLICATE, ChunkView, plan
from mooseng.master.placement import MAINTENANCE, OFFLINE, ONLINE, Candidate


def cluster(**states):
    return {sid: Candidate(sid, state, 1000, used) for sid, (state, used) in states.items()}


SERVERS = cluster(a=(ONLINE, 10), b=(ONLINE, 20), c=(ONLINE, 30), d=(ONLINE, 40))


def test_under_goal_replicates_to_a_server_without_a_copy():
    result = plan([ChunkView(1, 5, 3, {"a": {5}, "b": {5}, "c": {4}})], SERVERS)
    assert (result.chunks, result.undergoal, result.overgoal, result.missing) == (1, 1, 0, 0)
    replicate = [a for a in result.actions if a.type == REPLICATE]
    assert len(replicate) == 1
    assert replicate[0].server_id == "d" and set(replicate[0].sources) == {"a", "b"}
    assert [(a.server_id, a.version) for a in result.actions if a.type == DELETE] == [("c", 4)]


def test_offline_copy_is_not_valid_but_maintenance_is():
    servers = cluster(a=(ONLINE, 0), b=(OFFLINE, 0), c=(MAINTENANCE, 0), d=(ONLINE, 0))
    result = plan([ChunkView(1, 5, 2, {"a": {5}, "b": {5}}),
                   ChunkView(2, 5, 2, {"a": {5}, "c": {5}})], servers)
    assert result.undergoal == 1
    assert [(a.type, a.chunk_id, a.server_id) for a in result.actions] == [(REPLICATE, 1, "d")]


def test_replication_reads_from_an_online_copy_before_one_in_maintenance():
    """A server in maintenance may be restarting: the copy is pulled from an online server first,
    and that is the server charged against the replication limit."""
    servers = cluster(a=(ONLINE, 0), m=(MAINTENANCE, 0), d=(ONLINE, 0), e=(ONLINE, 0))
    result = plan([ChunkView(1, 5, 4, {"a": {5}, "m": {5}})], servers, limit=1)
    replicate = [a for a in result.actions if a.type == REPLICATE]
    assert [(a.server_id, a.sources) for a in replicate] == [("d", ("a", "m"))]


def test_base_version_kept_beside_the_new_one_is_deleted():
    result = plan([ChunkView(1, 7, 2, {"a": {5, 7}, "b": {5, 7}})], SERVERS)
    assert result.undergoal == result.overgoal == 0
    assert sorted((a.type, a.server_id, a.version) for a in result.actions) \
        == [(DELETE, "a", 5), (DELETE, "b", 5)]


def test_over_goal_deletes_from_the_most_used():
    result = plan([ChunkView(1, 5, 2, {"a": {5}, "b": {5}, "c": {5}, "d": {5}})], SERVERS)
    assert result.overgoal == 1
    assert sorted(a.server_id for a in result.actions if a.type == DELETE) == ["c", "d"]


def test_maintenance_copies_count_but_are_not_deleted_for_over_goal():
    servers = cluster(a=(ONLINE, 0), b=(ONLINE, 0), c=(MAINTENANCE, 0))
    result = plan([ChunkView(1, 5, 2, {"a": {5}, "b": {5}, "c": {5}})], servers)
    assert result.overgoal == 1 and result.actions == []
    lone = plan([ChunkView(1, 5, 2, {"c": {5}})], servers)
    [action] = lone.actions
    assert action.type == REPLICATE and action.sources == ("c",)


def test_missing_keeps_old_copies_and_counts():
    result = plan([ChunkView(1, 5, 2, {"a": {4}}), ChunkView(2, 5, 2, {})], SERVERS)
    assert result.missing == 2 and result.actions == []


def test_unknown_chunks_deleted_unless_leased():
    chunks = [ChunkView(9, 0, 0, {"a": {3}, "b": {4}})]
    result = plan(chunks, SERVERS, leases={9: {4}})
    assert [(a.type, a.server_id, a.version) for a in result.actions] == [(DELETE, "a", 3)]
    assert result.chunks == 0


def test_lease_version_is_not_stale():
    result = plan([ChunkView(1, 5, 2, {"a": {5}, "b": {5}, "c": {6}, "d": {4}})], SERVERS,
                  leases={1: {6}})
    assert [(a.server_id, a.version) for a in result.actions] == [("d", 4)]


def test_replication_limit_and_in_flight():
    chunks = [ChunkView(n, 1, 2, {"a": {1}}) for n in range(10)]
    servers = cluster(a=(ONLINE, 0), b=(ONLINE, 0))
    result = plan(chunks, servers, limit=3)
    assert result.undergoal == 10
    assert len(result.actions) == 3                    # a is the only source: 3 at a time
    in_flight = plan(chunks[:1], servers, replicating={0: {"b"}}, busy={"a": {1}, "b": {1}})
    assert in_flight.actions == []


def test_counts_only():
    result = plan([ChunkView(1, 5, 3, {"a": {5}})], SERVERS, act=False)
    assert result.undergoal == 1 and result.actions == []
