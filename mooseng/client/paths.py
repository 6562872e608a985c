"""Pure helpers for MooseNG paths (absolute POSIX paths; the master validates lengths)."""

import posixpath


def normalize(path: str) -> str:
    """'a//b/' -> '/a/b'; relative paths are taken from the root."""
    if not isinstance(path, str):
        raise TypeError(f"a MooseNG path is a str, not {type(path).__name__}")
    text = posixpath.normpath("/" + path.lstrip("/")) if path else "/"
    return "/" + text.lstrip("/")


def join(directory: str, name: str) -> str:
    return normalize(posixpath.join(normalize(directory), name))


def parent(path: str) -> str:
    return posixpath.dirname(normalize(path)) or "/"


def basename(path: str) -> str:
    return posixpath.basename(normalize(path))
