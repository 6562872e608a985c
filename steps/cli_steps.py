"""The admin CLI against a live cluster, compared with what the cluster says through gRPC."""

import support.steptypes  # noqa: F401 - registers {x:Q}, {x:Size}
from behave import then, when
from hamcrest import assert_that, equal_to, has_length

from support import rpc


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
    result = context.world.cli.last
    assert result.exit_code == code, f"expected exit code {code}:\n{result}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mooseng: error: ") and text in lines[0], \
        f"expected one line 'mooseng: error: ...' naming {text}:\n{result}"
    assert "Traceback" not in result.stderr, f"a traceback was printed:\n{result}"
