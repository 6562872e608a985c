"""Typed placeholders for step sentences, so that a size or a choice never swallows the rest of
a sentence: {size:Size} matches "256 KB" or "3.5 chunks" and nothing longer."""

import re

import parse
from behave import register_type


def choice(options) -> callable:
    """A placeholder type that matches exactly one of `options`."""
    @parse.with_pattern("|".join(re.escape(o) for o in sorted(options, key=len, reverse=True)))
    def convert(text):
        return text
    return convert


@parse.with_pattern(r"\d+(?:\.\d+)?\s*(?:B|KB|MB|GB|chunks?)")
def _size(text):
    return text


register_type(Size=_size)


@parse.with_pattern(r'[^"]*')
def _quoted(text):
    return text


register_type(Q=_quoted)
