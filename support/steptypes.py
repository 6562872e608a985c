"""Typed placeholders for step sentences, so that a value never swallows the rest of a sentence:
{size:Size} matches "256 KB" or "3.5 chunks", {name:Q} the text between two double quotes,
{role:Daemon} "master" or "chunk server" (as the role's name), {way:Restart} "stopped" or "killed",
{fault:Halt} "killed" or "paused", {state:ListedState} "online", "offline" or "in maintenance"
(as the master's state name), {names:QList} '"a"', '"a" and "b"' or '"a", "b" and "c"'
(as a list of names)."""

import parse
from behave import register_type


@parse.with_pattern(r"\d+(?:\.\d+)?\s*(?:B|KB|MB|GB|chunks?)")
def _size(text):
    return text


register_type(Size=_size)


@parse.with_pattern(r'[^"]*')
def _quoted(text):
    return text


register_type(Q=_quoted)


@parse.with_pattern(r"master|chunk server")
def _daemon(text):
    return {"master": "master", "chunk server": "chunkserver"}[text]


register_type(Daemon=_daemon)


@parse.with_pattern(r"stopped|killed")
def _restart(text):
    return text


register_type(Restart=_restart)


@parse.with_pattern(r"killed|paused")
def _halt(text):
    return text


register_type(Halt=_halt)


@parse.with_pattern(r"online|offline|in maintenance")
def _listed_state(text):
    return {"online": "ONLINE", "offline": "OFFLINE", "in maintenance": "MAINTENANCE"}[text]


register_type(ListedState=_listed_state)


@parse.with_pattern(r'"[^"]*"(?:(?:, | and )"[^"]*")*')
def _quoted_list(text):
    return [part.strip('"') for part in text.replace(" and ", ", ").split(", ")]


register_type(QList=_quoted_list)
