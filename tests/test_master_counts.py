"""The master's goal accounting (under / over / missing counts behind /health and `mooseng
status`) is kept chunk by chunk: always equal to a full goals.plan, but a change costs work
for the chunks it touched, not for every chunk."""

import random

from mooseng.common.errors import ResourceExhausted, Unavailable
from mooseng.master import goals
from mooseng.master.core import MasterCore, Settings

MiB = 1024 * 1024


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def full_counts(master: MasterCore) -> tuple:
    with master.lock:
        plan = goals.plan(master._chunk_views(), master.candidates(), act=False)
    return plan.chunks, plan.undergoal, plan.overgoal, plan.missing


def counts(master: MasterCore) -> tuple:
    plan = master.counts()
    return plan.chunks, plan.undergoal, plan.overgoal, plan.missing


def open_core(tmp_path, clock) -> MasterCore:
    master = MasterCore(Settings(data_dir=str(tmp_path), chunk_size=MiB,
                                 heartbeat_interval=0.1, offline_timeout=1.0), clock=clock)
    master.open()
    return master


def write(master: MasterCore, inode: int, index: int, servers: list[str], size: int = 10):
    grant = master.allocate(inode, index, [])
    written = [sid for sid, _ in grant.chain if sid in servers] or [grant.chain[0][0]]
    master.commit(inode, index, grant.chunk_id, grant.version, grant.lease_id, written, size,
                  index * MiB + size, False)
    return grant


def test_counts_follow_every_kind_of_change(tmp_path):
    clock = Clock()
    master = open_core(tmp_path, clock)
    rng = random.Random(7)
    sids = ["cs1", "cs2", "cs3", "cs4"]
    for sid in sids:
        master.register(sid, f"127.0.0.1:{sid[-1]}", "", {}, 10**9, 0, [])
    master.mkdir("/d", False)
    files = []
    for number in range(12):
        node = master.create(f"/d/f{number}", False, 1 + number % 3)
        files.append(node)
        for index in range(1 + number % 2):
            write(master, node.inode, index, rng.sample(sids, rng.randint(1, 3)))
        assert counts(master) == full_counts(master)

    def heartbeat_all():
        for sid in sids:
            if sid not in offline:
                master.heartbeat(sid, 10**9, 0, [], [], [])

    offline: set[str] = set()
    for step in range(120):
        kind = rng.choice(["rewrite", "drop", "damage", "add", "maintenance", "offline",
                           "online", "setgoal", "remove", "truncate", "register", "tick"])
        live = [n for n in files if n.inode in master.state.inodes]
        chunk_ids = list(master.state.chunks)
        sid = rng.choice(sids)
        if kind == "rewrite" and live:
            node = rng.choice(live)
            try:
                write(master, node.inode, 0, rng.sample(sids, rng.randint(1, 4)))
            except (Unavailable, ResourceExhausted):
                pass    # no online holder or no online server left: a client would give up
        elif kind in ("drop", "damage", "add") and chunk_ids:
            chunk = master.state.chunks[rng.choice(chunk_ids)]
            ref = [(chunk.chunk_id, chunk.version)]
            master.heartbeat(sid, 10**9, 0, ref if kind == "add" else [],
                             ref if kind == "drop" else [], ref if kind == "damage" else [])
        elif kind == "maintenance":
            master.set_maintenance(sid, not master.servers[sid].maintenance)
        elif kind == "offline":
            offline.add(sid)
            clock.now += 2.0
            heartbeat_all()
            master.tick()
        elif kind == "online":
            offline.discard(sid)
            master.heartbeat(sid, 10**9, 0, [], [], [])
        elif kind == "setgoal":
            master.set_goal(rng.choice(["/d"] + [f"/d/{n.name}" for n in live]),
                            rng.randint(1, 4), True)
        elif kind == "remove" and live:
            master.remove(f"/d/{rng.choice(live).name}", False)
        elif kind == "truncate" and live:
            master.truncate(rng.choice(live).inode, rng.choice([0, 5, MiB + 3]))
        elif kind == "register":
            held = [(c, v) for c, by in master.copies.items() for s, vs in by.items()
                    if s == sid for v in vs]
            master.register(sid, f"127.0.0.1:{sid[-1]}", "", {}, 10**9, 0,
                            rng.sample(held, len(held) // 2))
        elif kind == "tick":
            clock.now += 0.5
            heartbeat_all()
            master.tick()
        assert counts(master) == full_counts(master), f"after step {step} ({kind})"
    master.close()


def test_a_change_reclassifies_only_the_chunks_it_touched(tmp_path, monkeypatch):
    master = open_core(tmp_path, Clock())
    for sid in ("cs1", "cs2"):
        master.register(sid, f"127.0.0.1:{sid[-1]}", "", {}, 10**9, 0, [])
    for number in range(300):
        node = master.create(f"/f{number}", False, 2)
        write(master, node.inode, 0, ["cs1", "cs2"])
    assert counts(master) == (300, 0, 0, 0)
    classified = []
    real = goals.classify
    monkeypatch.setattr(goals, "classify", lambda *a: classified.append(a) or real(*a))
    monkeypatch.setattr(goals, "plan", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("counts() must not plan every chunk")))
    node = master.create("/new", False, 2)
    write(master, node.inode, 0, ["cs1"])
    master.heartbeat("cs2", 10**9, 0, [], [], [])
    assert counts(master) == (301, 1, 0, 0)
    assert len(classified) == 1
    master.close()


def test_a_chunk_without_known_copies_is_registering_not_lost_right_after_start(tmp_path):
    clock = Clock()
    master = open_core(tmp_path, clock)
    master.register("cs1", "127.0.0.1:1", "", {}, 10**9, 0, [])
    node = master.create("/f", False, 1)
    write(master, node.inode, 0, ["cs1"])
    master.close()
    restarted = open_core(tmp_path, clock)
    (place,) = restarted.get_chunks(node.inode, 0, 0)[1]
    assert place.servers == () and place.registering
    clock.now += 10                                    # the grace is over: it is lost
    (place,) = restarted.get_chunks(node.inode, 0, 0)[1]
    assert place.servers == () and not place.registering


def test_a_chunk_server_without_room_for_a_chunk_gets_no_new_chunk_until_it_has_room(tmp_path):
    master = open_core(tmp_path, Clock())
    for sid in ("cs1", "cs2", "cs3"):
        master.register(sid, f"127.0.0.1:{sid[-1]}", "", {}, 10**9, 0, [])
    master.heartbeat("cs3", 5 * MiB, 5 * MiB - 1, [], [], [])     # one byte short of a chunk
    node = master.create("/f", False, 3)
    assert {sid for sid, _ in master.allocate(node.inode, 0, []).chain} == {"cs1", "cs2"}
    with master.lock:
        assert master.candidates()["cs3"].full
    master.heartbeat("cs3", 5 * MiB, 4 * MiB, [], [], [])        # a chunk's room again
    assert {sid for sid, _ in master.allocate(node.inode, 1, []).chain} == {"cs1", "cs2", "cs3"}
    master.close()
