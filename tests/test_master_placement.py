"""Placement: least-used ONLINE servers, never the same server twice, clear exhaustion."""

import random

import pytest

from mooseng.common.errors import ResourceExhausted
from mooseng.master.placement import MAINTENANCE, OFFLINE, ONLINE, Candidate, choose


def servers():
    return [Candidate("a", ONLINE, 100, 50), Candidate("b", ONLINE, 100, 10),
            Candidate("c", ONLINE, 100, 30), Candidate("d", OFFLINE, 100, 0),
            Candidate("e", MAINTENANCE, 100, 0)]


def test_least_used_online_only():
    assert choose(servers(), 2) == ["b", "c"]
    assert choose(servers(), 5) == ["b", "c", "a"]


def test_exclude_and_duplicates():
    twice = servers() + [Candidate("b", ONLINE, 100, 10)]
    assert choose(twice, 5, exclude=["c"]) == ["b", "a"]


def test_chunk_count_breaks_usage_ties():
    equal = [Candidate("x", ONLINE, 0, 0, chunks=5), Candidate("y", ONLINE, 0, 0, chunks=1)]
    assert choose(equal, 1) == ["y"]


def test_random_tie_break_spreads_load():
    equal = [Candidate(name, ONLINE) for name in "pqrs"]
    rng = random.Random(7)
    firsts = {choose(equal, 1, rng=rng)[0] for _ in range(50)}
    assert firsts == set("pqrs")


def test_exhausted_names_the_numbers():
    with pytest.raises(ResourceExhausted, match="need 1, 0 online"):
        choose([Candidate("d", OFFLINE)], 2)
    assert choose([Candidate("d", OFFLINE)], 2, minimum=0) == []


def test_a_full_server_takes_no_new_copy_and_is_named_when_nothing_else_is_left():
    cluster = servers() + [Candidate("f", ONLINE, 100, 0, full=True)]
    assert "f" not in choose(cluster, 5)
    with pytest.raises(ResourceExhausted, match=r"need 1, 0 online and eligible, 1 full "
                                                r"\(free space on their disks"):
        choose(cluster, 1, exclude=["a", "b", "c"])
