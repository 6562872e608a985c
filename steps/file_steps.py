"""File operations through the client library, each recorded in the scenario's history."""

from behave import given, then, when
from hamcrest import assert_that, equal_to, has_length

from mooseng.common import errors

from support import data, steptables
from support.data import Payload
from support.matchers import all_chunks_at_goal, eventually
from support.waiting import within

ERRORS = {
    "not found": errors.NotFound,
    "already exists": errors.AlreadyExists,
    "invalid argument": errors.InvalidArgument,
    "failed precondition": errors.FailedPrecondition,
    "resource exhausted": errors.ResourceExhausted,
    "data loss": errors.DataLoss,
}


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


# ---------------------------------------------------------------- set-up
@given('a directory "{path:Q}"')
def step_directory(context, path):
    context.world.mkdir(path)


@given('a file "{path:Q}" of {size:Size} written by a client with goal {goal:d}')
@when('a client writes a file "{path:Q}" of {size:Size} with goal {goal:d}')
def step_file_written(context, path, size, goal):
    world = context.world
    world.mkdir(_parent(path))
    world.write(path, world.new_payload(context.world.size(size)), goal=goal)


@given('{count:d} files of {size:Size} written by a client with goal {goal:d}')
def step_files_written(context, count, size, goal):
    world = context.world
    world.mkdir("/files")
    for number in range(1, count + 1):
        world.write(f"/files/file-{number}.bin", world.new_payload(context.world.size(size)),
                    goal=goal)


@given('a directory "{path:Q}" holding {count:d} empty files')
def step_large_directory(context, path, count):
    world = context.world
    world.mkdir(path)
    client = world.client()
    for number in range(count):
        with world.history.record("scenario", "create", f"{path}/entry-{number:05d}"):
            client.open(f"{path}/entry-{number:05d}", "wb").close()
    context.world.remembered["expected names"] = {f"entry-{n:05d}" for n in range(count)}


# ---------------------------------------------------------------- writing
@when('a client writes the text "{text:Q}" to a new file "{path:Q}"')
def step_write_text(context, path, text):
    world = context.world
    with world.history.record("scenario", "write", path):
        with world.client().open(path, "xb") as handle:
            handle.write(text.encode())


@when('a client creates an empty file "{path:Q}"')
def step_create_empty(context, path):
    world = context.world
    world.write(path, Payload(seed=0, size=0))


@when('a client writes a file "{path:Q}" of {size:Size}')
def step_write_file(context, path, size):
    world = context.world
    world.write(path, world.new_payload(context.world.size(size)))


@when('a client writes a {data_set} file "{path:Q}" of {size:Size}')
def step_write_data_set(context, data_set, path, size):
    """A file of one of the plan's data sets; its size is scaled by -D data_scale."""
    data.check_data_set(data_set, size)
    world = context.world
    world.write(path, world.new_payload(data.scaled_size(size)))


@when('a client overwrites "{path:Q}" with {size:Size} of new data')
def step_overwrite(context, path, size):
    world = context.world
    world.write(path, world.new_payload(context.world.size(size)))


@when('a client writes {size:Size} of new data into "{path:Q}" at {offset:Size}')
def step_write_in_place(context, path, size, offset):
    world = context.world
    new = world.new_payload(context.world.size(size))
    at = context.world.size(offset)
    with world.history.record("scenario", "write", path, new):
        with world.client().open(path, "r+b") as handle:
            handle.seek(at)
            handle.write(new.bytes())
    world.remembered["patch"] = (at, new)


@when('a client appends {size:Size} of new data to "{path:Q}"')
def step_append(context, path, size):
    world = context.world
    new = world.new_payload(context.world.size(size))
    with world.history.record("scenario", "write", path, new):
        with world.client().open(path, "ab") as handle:
            handle.write(new.bytes())
    world.remembered["appended"] = new


@when('a client renames "{source:Q}" to "{destination:Q}"')
def step_rename(context, source, destination):
    world = context.world
    with world.history.record("scenario", "rename", f"{source} -> {destination}"):
        world.client().rename(source, destination)
    world.remembered["renamed"] = world.files[source]


@when('a client deletes "{path:Q}"')
def step_delete(context, path):
    world = context.world
    world.remembered["chunks of deleted file"] = {c.chunk_id for c in world.copies(path)}
    with world.history.record("scenario", "remove", path):
        world.client().remove(path)


@given("every file was rewritten in place with new data while it was partitioned")
@given("every file was rewritten in place with new data while it was down")
def step_rewrite_in_place(context):
    """Same size, same chunks, new data: every chunk gets a new version on the reachable
    servers only, so the server that was away is left holding the old versions."""
    world = context.world
    for path, old in sorted(world.files.items()):
        payload = world.new_payload(old.size)
        with world.history.record("scenario", "write", path, payload):
            with world.client().open(path, "r+b") as handle:
                for piece in payload.pieces(4 * 1024 * 1024):
                    handle.write(piece)
        world.files[path] = payload


@when('a client reads "{path:Q}"')
def step_read(context, path):
    context.world.read(path)


@when('a client lists "{path:Q}"')
def step_list(context, path):
    world = context.world
    with world.history.record("scenario", "listdir", path):
        world.remembered["listing"] = world.client().listdir(path)


# ---------------------------------------------------------------- mistakes (client level)
MISTAKES = {
    "creates a file in a directory that does not exist":
        lambda c: c.open("/nowhere/file.txt", "wb").close(),
    "creates a file whose name is 256 bytes long":
        lambda c: c.open(f"/docs/{steptables.LONG_NAME}", "wb").close(),
    "removes a directory that is not empty":
        lambda c: c.remove("/docs/inside"),
    "creates a directory that already exists":
        lambda c: c.mkdir("/docs/inside"),
    "creates the root directory":
        lambda c: c.mkdir("/"),
    "creates a file whose path is 1025 bytes long":
        lambda c: c.open(steptables.LONG_PATH, "wb").close(),
    "asks for a file that does not exist":
        lambda c: c.stat("/docs/inside/missing.txt"),
    "sets a goal of 4 with only 3 chunk servers":
        lambda c: c.setgoal("/docs/inside/page.txt", 4),
}


@when('a client tries to write a file "{path:Q}" of {size:Size} with goal {goal:d}')
def step_try_write(context, path, size, goal):
    world = context.world
    world.mkdir(_parent(path))
    try:
        world.write(path, world.new_payload(context.world.size(size)), goal=goal)
    except errors.MooseNGError as error:
        world.remembered["refusal"] = error
    else:
        world.remembered["refusal"] = None


@then('the write is refused as unavailable, naming "{name:Q}" as a chunk server that failed')
def step_refused_naming(context, name):
    world = context.world
    error = world.remembered["refusal"]
    assert error is not None, "the write was acknowledged"
    address = world.advertised_address(world.node(name))
    assert isinstance(error, errors.Unavailable) and address in str(error), \
        f"expected an unavailable error naming {name} ({address}), got " \
        f"{type(error).__name__}: {error}"


@when("a client makes these mistakes:")
def step_mistakes(context):
    world = context.world
    outcomes = []
    for row in context.table:
        mistake = row["mistake"]
        make = steptables.action(MISTAKES, mistake, "mistake")
        try:
            with world.history.record("scenario", mistake.split()[0], mistake):
                make(world.client())
            outcomes.append((row, None))
        except errors.MooseNGError as error:
            outcomes.append((row, error))
    world.remembered["outcomes"] = outcomes


@then("each mistake is refused with its error and a message that mentions the culprit")
def step_mistakes_refused(context):
    wrong = []
    for row, error in context.world.remembered["outcomes"]:
        expected = ERRORS[row["error"]]
        if not isinstance(error, expected) or row["mention"] not in str(error):
            got = "success" if error is None else f"{type(error).__name__}: {error}"
            wrong.append(f"- {row['mistake']}: expected {expected.__name__} mentioning "
                         f"{row['mention']!r}, got {got}")
    assert not wrong, "mistakes answered wrongly:\n" + "\n".join(wrong)


# ---------------------------------------------------------------- checks
@then('"{path:Q}" reads back as the text "{text:Q}"')
def step_reads_text(context, path, text):
    assert_that(context.world.read(path), equal_to(text.encode()))


@then('"{path:Q}" reads back as nothing')
def step_reads_nothing(context, path):
    assert_that(context.world.read(path), equal_to(b""))


@then('"{path:Q}" reads back intact')
def step_reads_intact(context, path):
    context.world.verify(path)


def _verify_within(world, paths: list[str], seconds: float) -> None:
    def probe():
        for path in paths:
            try:
                world.verify(path)
            except Exception as error:  # noqa: BLE001 - "not yet", reported with the path
                raise AssertionError(f"{path}: {type(error).__name__}: {error}") from error
        return True

    what = paths[0] if len(paths) == 1 else f"each of the {len(paths)} files"
    within(seconds, probe, f"{what} to read back intact")


@then('the file "{path:Q}" reads back intact within {seconds:g} seconds')
def step_reads_intact_within(context, path, seconds):
    _verify_within(context.world, [path], seconds)


@then("every file reads back intact within {seconds:g} seconds")
def step_every_file_intact_within(context, seconds):
    _verify_within(context.world, sorted(context.world.files), seconds)


@then("every file reads back intact")
def step_every_file_intact(context):
    for path in sorted(context.world.files):
        context.world.verify(path)


def _refused_within(seconds: float, attempt, error: str, what: str) -> None:
    """`attempt()` fails with the error named in the sentence within `seconds`; success or
    another error counts as "not yet" and is shown if the time runs out."""
    expected = ERRORS[error]

    def probe():
        try:
            attempt()
        except expected as refusal:
            return str(refusal)
        raise AssertionError("the operation succeeded")

    within(seconds, probe, f"{what} to be refused with {expected.__name__}")


@then('a client reading "{path:Q}" is refused with {error} within {seconds:g} seconds')
def step_read_refused(context, path, error, seconds):
    _refused_within(seconds, lambda: context.world.read(path), error, f"reading {path}")


@then('a client writing a new file "{path:Q}" is refused with {error} within {seconds:g} '
      'seconds')
def step_write_refused(context, path, error, seconds):
    world = context.world
    _refused_within(seconds, lambda: world.write(path, world.new_payload(64 * 1024)), error,
                    f"writing {path}")


@then('"{path:Q}" is a file of {size:Size}')
def step_is_file_of(context, path, size):
    stat = context.world.client().stat(path)
    assert_that(stat.type, equal_to("file"))
    assert_that(stat.size, equal_to(context.world.size(size)), f"size of {path}")


@then('"{path:Q}" has the size that was written')
def step_has_written_size(context, path):
    stat = context.world.client().stat(path)
    assert_that(stat.size, equal_to(context.world.files[path].size), f"size of {path}")


@then('"{path:Q}" is a file of 0 bytes with no chunks')
def step_empty_file(context, path):
    stat = context.world.client().stat(path)
    assert_that((stat.type, stat.size, len(stat.chunks)), equal_to(("file", 0, 0)),
                "(type, size, number of chunks)")


@then('"{path:Q}" has {count:d} chunks')
def step_chunk_count(context, path, count):
    assert_that(context.world.client().stat(path).chunks, has_length(count))


@then('every chunk of "{path:Q}" has {goal:d} copies on different chunk servers')
def step_chunks_at_goal(context, path, goal):
    assert_that(context.world.copies(path), all_chunks_at_goal(goal))


@then('every chunk of "{path:Q}" has {goal:d} copies, none on "{name:Q}"')
def step_chunks_at_goal_avoiding(context, path, goal, name):
    assert_that(context.world.copies(path), all_chunks_at_goal(goal, avoiding=name))


@then('the listing of "{directory:Q}" shows "{name:Q}" as a file of {size:d} bytes')
def step_listing_shows(context, directory, name, size):
    entries = {e.name: e for e in context.world.client().listdir(directory)}
    assert name in entries, f"{name!r} not in the listing of {directory}: {sorted(entries)}"
    assert_that((entries[name].type, entries[name].size), equal_to(("file", size)))


@then('"{path:Q}" holds the old data with the new {size:Size} at {offset:Size}')
def step_holds_patch(context, path, size, offset):
    world = context.world
    at, new = world.remembered["patch"]
    old = world.files[path]
    got = world.read(path)
    old.verify_range(got[:at], 0)
    new.verify(got[at:at + new.size])
    old.verify_range(got[at + new.size:], at + new.size)
    assert_that(len(got), equal_to(old.size))


@then('"{path:Q}" holds the old data followed by the new data')
def step_holds_appended(context, path):
    world = context.world
    old, new = world.files[path], world.remembered["appended"]
    got = world.read(path)
    old.verify(got[:old.size])
    new.verify(got[old.size:])


@then('"{destination:Q}" reads back with the content "{source:Q}" had')
def step_renamed_content(context, destination, source):
    world = context.world
    world.remembered["renamed"].verify(world.read(destination))


@then('"{path:Q}" no longer exists')
def step_gone(context, path):
    world = context.world
    try:
        stat = world.client().stat(path)
    except errors.NotFound:
        return
    raise AssertionError(f"{path} still exists: {stat}")


@then('no chunk server stores a chunk of "{path:Q}" within {seconds:g} seconds')
def step_chunks_deleted(context, path, seconds):
    world = context.world
    chunk_ids = world.remembered["chunks of deleted file"]
    assert chunk_ids, f"{path} had no chunks to begin with"
    eventually(seconds, lambda: {cid: nodes for cid, nodes in world.disk_copies().items()
                                 if cid in chunk_ids},
               equal_to({}), f"the chunks {sorted(chunk_ids)} of {path} removed from every disk")


@then("the listing has {count:d} entries, each file named once")
def step_listing_complete(context, count):
    listing = context.world.remembered["listing"]
    names = [entry.name for entry in listing]
    assert_that(len(names), equal_to(count), "number of entries")
    assert_that(set(names), equal_to(context.world.remembered["expected names"]))


@then('no chunk of "{path:Q}" has an id or a version the files had before')
def step_fresh_ids(context, path):
    """Chunk ids and versions come from one counter: a value handed out twice could let a
    new chunk or version be mistaken for an old one."""
    world = context.world
    before = {value for other in world.files if other != path
              for copy in world.copies(other) for value in (copy.chunk_id, copy.version)}
    assert before, "the other files have no chunks to compare with"
    reused = [str(copy) for copy in world.copies(path) if {copy.chunk_id, copy.version} & before]
    assert not reused, "chunks with an id or version handed out before:\n" + "\n".join(reused)
