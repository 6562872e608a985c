"""Typed placeholders for step sentences, so that a value never swallows the rest of a sentence:
{size:Size} matches "256 KB" or "3.5 chunks", {name:Q} the text between two double quotes."""

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
