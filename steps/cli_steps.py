"""The admin CLI against a live cluster, compared with what the cluster says through gRPC."""

import json
import shutil
import tempfile
from pathlib import Path

import support.steptypes  # noqa: F401 - registers {x:Q}, {x:Size}
from behave import then, when
from hamcrest import assert_that, equal_to, greater_than, has_entries, has_items, has_length

from support import rpc, steptables
from support.matchers import all_chunks_at_goal


@when("an administrator lists the chunk servers in the machine-readable format")
def step_cli_chunkservers(context):
    context.world.remembered["cli json"] = context.world.cli.json("chunkservers")


@then("the listing shows {count:d} chunk servers online with their identities and addresses")
def step_cli_listing(context, count):
    world = context.world
    listing = world.remembered["cli json"]
    servers = listing["servers"] if isinstance(listing, dict) else listing
    assert_that(servers, has_length(count))
    truth = {s.id: s.address for s in rpc.chunkservers(world.master.address)}
    shown = {s["id"]: s["address"] for s in servers}
    assert_that(shown, equal_to(truth), "identities and addresses (CLI versus the master)")
    states = sorted(str(s["state"]).lower() for s in servers)
    assert_that(states, equal_to(["online"] * count))


@when('an administrator asks for the details of "{path:Q}" in the machine-readable format')
def step_cli_stat_json(context, path):
    context.world.remembered["cli json"] = context.world.cli.json("fs", "stat", path)
    context.world.remembered["cli path"] = path


@when('an administrator sets the goal of the directory "{path:Q}" and everything in it to '
      '{goal:d}')
def step_cli_setgoal_tree(context, path, goal):
    result = context.world.cli.run("fs", "setgoal", str(goal), path, "-r")
    assert result.exit_code == 0, f"the CLI failed:\n{result}"


@when('an administrator removes the directory "{path:Q}" and everything in it')
def step_cli_remove_tree(context, path):
    world = context.world
    world.remembered["chunks of deleted file"] = {
        copy.chunk_id for name in world.files if name.startswith(path + "/")
        for copy in world.copies(name)}
    result = world.cli.run("fs", "rm", "-r", path)
    assert result.exit_code == 0, f"the CLI failed:\n{result}"


@when('an administrator asks for the details of "{path:Q}"')
def step_cli_stat(context, path):
    context.world.cli.run("fs", "stat", path)


@then("the details give the size, goal {goal:d} and the copies of each chunk as the client sees "
      "them")
def step_cli_details(context, goal):
    world = context.world
    shown = world.remembered["cli json"]
    path = world.remembered["cli path"]
    stat = world.client().stat(path)
    assert_that((shown["size"], shown["goal"]), equal_to((world.files[path].size, goal)),
                "(size, goal) shown by the CLI")
    expected = [(c.index, c.chunk_id, c.version, sorted(c.servers)) for c in stat.chunks]
    got = [(c["index"], c["chunk_id"], c["version"], sorted(c["servers"]))
           for c in shown["chunks"]]
    assert_that(got, equal_to(expected), "chunks (index, id, version, servers)")


@then('the command fails with exit code {code:d} and one error line naming "{text:Q}"')
def step_cli_error(context, code, text):
    wrong = _not_one_error_line(context.world.cli.last, code, text)
    assert not wrong, wrong


@when("an administrator makes these mistakes:")
def step_cli_mistakes(context):
    world = context.world
    world.remembered["cli mistakes"] = [(row["error names"], world.cli.run(*row["command"].split()))
                                        for row in context.table]


@then("each mistake failed with exit code {code:d} and one error line naming its culprit")
def step_cli_mistakes_failed(context, code):
    wrong = [problem for text, result in context.world.remembered["cli mistakes"]
             if (problem := _not_one_error_line(result, code, text))]
    assert not wrong, "\n\n".join(wrong)


def _not_one_error_line(result, code: int, text: str) -> str:
    """What is wrong with a failed command's answer ("" when it is one clear error line)."""
    lines = result.stderr.strip().splitlines()
    if result.exit_code != code:
        return f"expected exit code {code}:\n{result}"
    if "Traceback" in result.stderr:
        return f"a traceback was printed:\n{result}"
    if len(lines) != 1 or not lines[0].startswith("mooseng: error: ") or text not in lines[0]:
        return f"expected one line 'mooseng: error: ...' naming {text}:\n{result}"
    return ""


# ---------------------------------------------------------------- every command, machine-readable
def _servers(answer):
    return answer["servers"] if isinstance(answer, dict) else answer


def _put(world, scratch):
    payload = world.new_payload(100 * 1024)
    local = scratch / "upload.bin"
    local.write_bytes(payload.bytes())
    world.remembered["uploaded"] = payload
    return ["fs", "put", str(local), "/data/put.bin", "--goal", "3"]


def _check_put(world, answer):
    payload = world.remembered["uploaded"]
    assert_that(answer, has_entries(path="/data/put.bin", size=payload.size, goal=3))
    world.files["/data/put.bin"] = payload
    world.verify("/data/put.bin")
    assert_that(world.copies("/data/put.bin"), all_chunks_at_goal(3))


def _check_get(world, answer, scratch):
    assert_that(answer, has_entries(path="/data/report.bin",
                                    size=world.files["/data/report.bin"].size))
    world.files["/data/report.bin"].verify((scratch / "download.bin").read_bytes())


def _check_placement(world, answer):
    """Every copy shown is one the master lists for that chunk (a copy still being made when
    the command ran may have landed since)."""
    listed = [set(c.server_ids) for c in world.client().stat("/data/report.bin").chunks]
    shown = [{c["server_id"] for c in chunk["copies"]} for chunk in answer["chunks"]]
    assert_that(len(shown), equal_to(len(listed)), "chunks shown")
    assert all(s and s <= held for s, held in zip(shown, listed)), f"{shown} not in {listed}"
    assert_that(answer["storage_class"], equal_to("triple"))


def _unused_class(world, scratch):
    world.client().define_class("unused", ["*"])
    return ["class", "delete", "unused"]


def _first_server(world) -> str:
    return sorted(s.id for s in rpc.chunkservers(world.master.address))[0]


# command -> (its arguments, given the scenario's world and a scratch folder of the machine;
#             a check of its answer against the cluster). In the order the table must use.
COMMANDS = {
    "status": (lambda w, d: ["status"], lambda w, a, d: assert_that(a, has_entries(
        servers_by_state=has_entries(online=3), chunks_undergoal=0, chunks_overgoal=0,
        chunks_missing=0, chunks=w.client().status()["chunks"]))),
    "chunkservers": (lambda w, d: ["chunkservers"], lambda w, a, d: assert_that(
        sorted(s["id"] for s in _servers(a)),
        equal_to(sorted(s.id for s in rpc.chunkservers(w.master.address))))),
    "fs ls": (lambda w, d: ["fs", "ls", "/data"], lambda w, a, d: assert_that(
        [entry["name"] for entry in a], equal_to(["report.bin"]))),
    "fs stat": (lambda w, d: ["fs", "stat", "/data/report.bin"], lambda w, a, d: assert_that(
        a, has_entries(size=w.files["/data/report.bin"].size, goal=2))),
    "fs mkdir": (lambda w, d: ["fs", "mkdir", "/data/new"], lambda w, a, d: assert_that(
        (a["type"], w.client().stat("/data/new").type), equal_to(("directory", "directory")))),
    "fs put": (_put, lambda w, a, d: _check_put(w, a)),
    "fs get": (lambda w, d: ["fs", "get", "/data/report.bin", str(d / "download.bin")],
               _check_get),
    "fs mv": (lambda w, d: ["fs", "mv", "/data/put.bin", "/data/moved.bin"],
              lambda w, a, d: assert_that((a["path"], w.client().exists("/data/put.bin")),
                                          equal_to(("/data/moved.bin", False)))),
    "fs setgoal": (lambda w, d: ["fs", "setgoal", "3", "/data/report.bin"],
                   lambda w, a, d: assert_that(
                       (a, w.client().stat("/data/report.bin").goal),
                       equal_to(({"path": "/data/report.bin", "goal": 3, "changed": 1}, 3)))),
    "fs rm": (lambda w, d: ["fs", "rm", "/data/moved.bin"],
              lambda w, a, d: assert_that((a, w.client().exists("/data/moved.bin")),
                                          equal_to(({"removed": "/data/moved.bin"}, False)))),
    "class create": (lambda w, d: ["class", "create", "triple", "3*"],
                     lambda w, a, d: assert_that(
                         (a["copies"], [c["name"] for c in w.client().classes()]),
                         equal_to((["*", "*", "*"], ["triple"])))),
    "class list": (lambda w, d: ["class", "list"], lambda w, a, d: assert_that(
        a, equal_to(w.client().classes()))),
    "fs setclass": (lambda w, d: ["fs", "setclass", "triple", "/data/report.bin"],
                    lambda w, a, d: assert_that(
                        (a["changed"], w.client().stat("/data/report.bin").storage_class),
                        equal_to((1, "triple")))),
    "class show": (lambda w, d: ["class", "show", "triple"], lambda w, a, d: assert_that(
        a, has_entries(name="triple", users=1, goal=3))),
    "admin placement": (lambda w, d: ["admin", "placement", "/data/report.bin"],
                        lambda w, a, d: _check_placement(w, a)),
    "class delete": (_unused_class, lambda w, a, d: assert_that(
        [c["name"] for c in w.client().classes()], equal_to(["triple"]))),
    "admin allocation-policy": (lambda w, d: ["admin", "allocation-policy", "round-robin"],
                                lambda w, a, d: assert_that(
                                    (a["policy"], w.client().status()["allocation_policy"]),
                                    equal_to(("round-robin", "round-robin")))),
    "chunkserver maintenance": (
        lambda w, d: ["chunkserver", "maintenance", "on", _first_server(w), "--for", "10m"],
        lambda w, a, d: assert_that(
            ({s["id"]: s["state"] for s in w.client().chunkservers()}[_first_server(w)],
             a["seconds"]), equal_to(("maintenance", 600)))),
    "chunkserver maintenance off": (
        lambda w, d: ["chunkserver", "maintenance", "off", _first_server(w)],
        lambda w, a, d: assert_that(
            {s["id"]: s["state"] for s in w.client().chunkservers()}[_first_server(w)],
            equal_to("online"))),
    "admin balance": (lambda w, d: ["admin", "balance"], lambda w, a, d: assert_that(
        (sorted(a["used_bytes"]), a["balancing"]),
        equal_to((sorted(s.id for s in rpc.chunkservers(w.master.address)), False)))),
    "admin repair": (lambda w, d: ["admin", "repair", "/data"], lambda w, a, d: assert_that(
        a["chunks"], equal_to(sum(len(w.client().stat(f"/data/{e.name}").chunks)
                                  for e in w.client().listdir("/data") if e.type == "file")))),
    "bench": (lambda w, d: ["bench", "--size", "1MiB", "--files", "5"],
              lambda w, a, d: assert_that(
                  [a["write"]["mb_per_s"], a["read"]["mb_per_s"],
                   a["small_files"]["files_per_s"]], has_items(*[greater_than(0)] * 3))),
}


@when("an administrator runs each of these commands in the machine-readable format:")
def step_cli_each_json(context):
    """Each answer is compared with the cluster right after its command, before the next one
    changes what the cluster holds."""
    world = context.world
    scratch = Path(tempfile.mkdtemp(prefix="mooseng-cli-"))
    context.add_cleanup(shutil.rmtree, scratch, ignore_errors=True)
    wrong = []
    for row in context.table:
        arguments, check = steptables.action(COMMANDS, row["command"], "command")
        result = world.cli.run(*arguments(world, scratch), "--json")
        try:
            assert result.exit_code == 0, "the command failed"
            check(world, json.loads(result.stdout), scratch)
        except (AssertionError, ValueError, KeyError, TypeError) as error:
            wrong.append(f"- {row['command']}: {type(error).__name__}: {error}\n{result}")
    world.remembered["cli answers wrong"] = wrong


@then("each command succeeds with a machine-readable answer that agrees with the cluster")
def step_cli_each_agrees(context):
    wrong = context.world.remembered["cli answers wrong"]
    assert not wrong, "commands answered wrongly:\n" + "\n".join(wrong)
