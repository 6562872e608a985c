"""Storage classes, tiers and the allocation policy: what the administrator sets through the
CLI, and where the copies are found on the chunk servers' disks (not where the master says)."""

import threading
import time

import support.steptypes  # noqa: F401 - registers {x:Q}, {x:Size}
from behave import given, then, when
from hamcrest import assert_that, equal_to, greater_than

from support import placement
from support.reporting import attach_text
from support.waiting import within

MiB = 1024 * 1024


def _constraint(text: str) -> dict[str, str]:
    """'tier=ssd,rack=r1' (or 'any') -> the labels a server must carry."""
    if text.strip() in ("any", "*"):
        return {}
    return dict(term.strip().split("=", 1) for term in text.replace("&", ",").split(","))


# ---------------------------------------------------------------- classes and policies

@given('the administrator created the storage class "{name:Q}" with the copies "{copies:Q}"')
def step_created_class(context, name, copies):
    context.world.cli.json("class", "create", name, *copies.split())


@when('the administrator creates the storage class "{name:Q}" with the copies "{copies:Q}"')
def step_create_class(context, name, copies):
    context.world.cli.run("class", "create", name, *copies.split())


@given('the administrator created the storage class "{name:Q}" with the copies "{copies:Q}" '
       'that archives to "{target:Q}" after {seconds:d} seconds')
def step_create_archiving_class(context, name, copies, target, seconds):
    context.world.cli.json("class", "create", name, *copies.split(), "--archive-to", target,
           "--archive-after", f"{seconds}s")


@given("the administrator created these storage classes:")
def step_create_classes(context):
    for row in context.table:
        context.world.cli.json("class", "create", row["class"], *row["copies"].split())


@then('the cluster has no storage class "{name:Q}"')
def step_no_class(context, name):
    listed = [c["name"] for c in context.world.cli.json("class", "list")]
    assert name not in listed, f"storage class {name} exists after all: {listed}"


@then('the storage class "{name:Q}" still has the copies "{copies:Q}" and is used by {users:d}')
def step_class_unchanged(context, name, copies, users):
    shown = context.world.cli.json("class", "show", name)
    wanted = [constraint for spec in copies.split()
              for constraint in _expand(spec)]
    assert_that((sorted(shown["copies"]), shown["users"]), equal_to((sorted(wanted), users)),
                f"(copies, users) of storage class {name}")


def _expand(spec: str) -> list[str]:
    """'2*tier=ssd' -> ['tier=ssd', 'tier=ssd']"""
    count, star, constraint = spec.partition("*")
    return [constraint] * int(count) if star and count.isdigit() else [spec]


@given('the allocation policy is "{policy:Q}"')
def step_policy(context, policy):
    answer = context.world.cli.json("admin", "allocation-policy", policy)
    assert_that(answer["policy"], equal_to(policy))


# ---------------------------------------------------------------- writing into a class

@given('{count:d} files of {size:Size} written into the directory "{directory:Q}" of the storage '
       'class "{name:Q}"')
@when('a client writes {count:d} files of {size:Size} into the directory "{directory:Q}" of the '
      'storage class "{name:Q}"')
def step_write_into_class(context, count, size, directory, name):
    world = context.world
    world.mkdir(directory)
    world.cli.json("fs", "setclass", name, directory)
    for number in range(count):
        world.write(f"{directory}/f{number:03d}.bin", world.new_payload(world.size(size)))
    world.remembered["directory"] = directory
    for path in placement.files_under(world, directory):
        assert_that(world.client().stat(path).storage_class, equal_to(name),
                    f"storage class {path} got from its directory")


@when('a client on rack "{rack:Q}" writes {count:d} files of one chunk with goal {goal:d}')
def step_write_from_rack(context, rack, count, goal):
    world = context.world
    client = world.client(name=f"client on {rack}", labels={"rack": rack})
    world.mkdir("/spread")
    for number in range(count):       # 64 KiB: one chunk whatever the chunk size
        world.write(f"/spread/f{number:03d}.bin", world.new_payload(64 * 1024), goal=goal,
                    client=client)
    world.remembered["directory"] = "/spread"


# ---------------------------------------------------------------- where the copies are

@then('every copy of every chunk of those files is on a chunk server labelled as the class '
      'wants: {wanted}')
def step_copies_as_wanted(context, wanted):
    world = context.world
    sets = [_constraint(part) for part in wanted.split(";")]
    paths = placement.files_under(world, world.remembered["directory"])
    wrong = placement.misplacements(world, paths, sets)
    assert not wrong, "copies not where the class wants them:\n" + "\n".join(wrong)


@then('every copy of every chunk of those files is on a chunk server labelled "{label:Q}"')
@then('every copy of every chunk of those files is on a chunk server labelled "{label:Q}" '
      'within {seconds:g} seconds')
def step_copies_labelled(context, label, seconds=0.0):
    world = context.world
    paths = placement.files_under(world, world.remembered["directory"])
    goal = world.client().stat(paths[0]).goal
    wanted = [_constraint(label)] * goal
    if not seconds:
        wrong = placement.misplacements(world, paths, wanted)
        assert not wrong, f"copies not on {label}:\n" + "\n".join(wrong)
        return
    started = time.monotonic()
    within(seconds, lambda: placement.misplacements(world, paths, wanted) or "none",
           f"every copy of the files on {label}", until=lambda found: found == "none")
    world.remembered["moved after"] = time.monotonic() - started


@then("the chunk servers hold the {count:d} chunks evenly, each within one chunk of an even "
      "share")
def step_even(context, count):
    held = _chunks_per_server(context.world)
    assert_that(sum(held.values()), equal_to(count), f"chunks held: {held}")
    even = count / len(held)
    uneven = {name: n for name, n in held.items() if abs(n - even) > 1}
    assert not uneven, f"not within one of {even:g} chunks each: {held}"


@then("every chunk server holds some of the {count:d} chunks")
def step_some_each(context, count):
    held = _chunks_per_server(context.world)
    assert_that(sum(held.values()), equal_to(count), f"chunks held: {held}")
    assert all(held.values()), f"a chunk server got none: {held}"


@then('every chunk is on a chunk server on rack "{rack:Q}"')
def step_on_rack(context, rack):
    world = context.world
    wrong = placement.misplacements(world, placement.files_under(world, "/spread"),
                                    [{"rack": rack}])
    assert not wrong, f"chunks off rack {rack}:\n" + "\n".join(wrong)


def _chunks_per_server(world) -> dict[str, int]:
    ids = {chunk.chunk_id for path in placement.files_under(world, "/spread")
           for chunk in world.client().stat(path).chunks}
    return {node.name: len(ids & set(node.stored_chunks())) for node in world.cluster.chunkservers}


# ---------------------------------------------------------------- moving between tiers

@when('the administrator sets the storage class of "{directory:Q}" and everything in it to '
      '"{name:Q}" while a client keeps reading the files')
def step_setclass_while_reading(context, directory, name):
    world = context.world
    paths = placement.files_under(world, directory)
    reader = world.client(name="reader")
    stop = threading.Event()
    reads: list[str] = []         # "ok", or what went wrong

    def read_all():
        while not stop.is_set():
            for path in paths:
                try:
                    world.verify(path, client=reader)     # same bytes as written
                    reads.append("ok")
                except Exception as error:  # noqa: BLE001 - the Then step judges
                    reads.append(f"{path}: {type(error).__name__}: {error}")

    thread = threading.Thread(target=read_all, name="reader", daemon=True)
    thread.start()
    context.add_cleanup(thread.join, 30)
    context.add_cleanup(stop.set)
    world.remembered["stop reading"] = (stop, thread, reads)
    world.remembered["moves before"] = world.cli.json("status")["moves_done"]
    world.cli.json("fs", "setclass", name, directory, "-r")


@then("every read during the move returned the data written")
def step_reads_during_move(context):
    world = context.world
    stop, thread, reads = world.remembered["stop reading"]
    stop.set()
    thread.join(30)
    failed = [read for read in reads if read != "ok"]
    assert_that(len(reads), greater_than(0), "reads made during the move")
    assert not failed, f"{len(failed)} of {len(reads)} reads failed:\n" + "\n".join(failed[:20])


@then("the allocation efficiency is attached to the report")
def step_efficiency(context):
    """Share of chunks whose copies sit on the tier their class wants, and how evenly the
    chunk servers of that tier share them."""
    world = context.world
    paths = placement.files_under(world, world.remembered["directory"])
    chunks = sum(len(world.client().stat(p).chunks) for p in paths)
    goal = world.client().stat(paths[0]).goal
    tier = world.client().stat(paths[0]).storage_class
    wanted = world.cli.json("class", "show", tier)["copies"]
    wrong = placement.misplacements(world, paths, [_constraint(w) for w in wanted])
    held = {node.name: len(node.stored_chunks()) for node in world.cluster.chunkservers
            if all(node.labels.get(k) == v for k, v in _constraint(wanted[0]).items())}
    mean = sum(held.values()) / len(held)
    status = world.cli.json("status")
    moves = status["moves_done"] - world.remembered.get("moves before", 0)
    seconds = world.remembered.get("moved after", 0.0)
    attach_text("\n".join([
        f"chunks correctly placed: {chunks - len(wrong)} of {chunks} "
        f"({100.0 * (chunks - len(wrong)) / chunks:.1f} %), goal {goal}, class {tier}",
        f"copies per chunk server of the tier: {held} "
        f"(spread {100.0 * (max(held.values()) - min(held.values())) / mean:.1f} % of the mean)",
        f"copies moved: {moves} in {seconds:.1f} s",
        f"misplaced chunks left: {status['chunks_misplaced']}"]), "allocation efficiency")
    assert not wrong, "chunks not on their tier:\n" + "\n".join(wrong)


@then('within {seconds:g} seconds every one of those files has the storage class "{name:Q}" '
      'and every copy on a chunk server labelled "{label:Q}"')
def step_archived(context, seconds, name, label):
    world = context.world
    paths = placement.files_under(world, world.remembered["directory"])
    goal = len(world.cli.json("class", "show", name)["copies"])

    def state():
        classes = {p: world.client().stat(p).storage_class for p in paths}
        if set(classes.values()) != {name}:
            return f"classes: {classes}"
        return placement.misplacements(world, paths, [_constraint(label)] * goal) or "none"

    within(seconds, state, f"every file archived to {name} on {label}",
           until=lambda found: found == "none")


# ---------------------------------------------------------------- balancing

@given('a new chunk server labelled "{label:Q}" joined the cluster')
def step_new_server(context, label):
    world = context.world
    node = world.cluster.add_chunkserver(labels=_constraint(label))
    world.remembered["new server"] = node
    within(20, lambda: world.listed_state(node), f"{node.name} online",
           until=lambda state: state == "ONLINE")


@when("the administrator looks at the balancing the CLI proposes, then applies it")
def step_balance(context):
    world = context.world
    before = {node.name: sorted(node.stored_chunks()) for node in world.cluster.chunkservers}
    shown = world.cli.json("admin", "balance")
    new = world.server_id(world.remembered["new server"])
    assert shown["moves"], f"no move proposed: {shown}"
    assert {m["target"] for m in shown["moves"]} == {new}, f"moves not to the new server: {shown}"
    after = {node.name: sorted(node.stored_chunks()) for node in world.cluster.chunkservers}
    assert_that(after, equal_to(before), "copies on disk after the dry run")
    world.remembered["balancing began"] = time.monotonic()
    assert world.cli.json("admin", "balance", "--apply")["balancing"]


@then("every online chunk server holds within 10 % of the mean number of copies on its disk "
      "within {seconds:g} seconds")
def step_balanced(context, seconds):
    world = context.world

    def spread():
        held = {node.name: len(node.stored_chunks()) for node in world.cluster.chunkservers}
        mean = sum(held.values()) / len(held)
        outside = {n: c for n, c in held.items() if abs(c - mean) > 0.1 * mean}
        return held if outside else "balanced"

    within(seconds, spread, "every chunk server within 10 % of the mean",
           until=lambda found: found == "balanced")
    took = time.monotonic() - world.remembered["balancing began"]
    status = world.cli.json("status")
    held = {node.name: len(node.stored_chunks()) for node in world.cluster.chunkservers}
    attach_text(f"balanced in {took:.1f} s after `admin balance --apply`: copies per chunk "
                f"server {held}; moves done {status['moves_done']}", "time to balance")
