"""The one place where the cluster backend is chosen (`-D backend=local|docker|auto`)."""

from __future__ import annotations

import importlib

from support.drivers.base import BackendUnavailable, ClusterDriver

BACKENDS = ("auto", "docker", "local")


class UnknownBackend(ValueError):
    pass


def _docker_module():
    """The docker driver module, or None with the reason it cannot be used."""
    try:
        return importlib.import_module("support.drivers.docker"), ""
    except ImportError as error:
        return None, f"the docker driver cannot be loaded ({error})"


def docker_available() -> tuple[bool, str]:
    module, reason = _docker_module()
    if module is None:
        return False, reason
    try:
        if module.engine_available():
            return True, "a Docker engine answers"
    except Exception as error:  # noqa: BLE001 - any failure means "not available", said once
        return False, f"asking the Docker engine failed ({type(error).__name__}: {error})"
    return False, "no Docker engine answers"


def choose(name: str) -> tuple[ClusterDriver, str]:
    """The driver for `name` and the one line that says which backend runs and why."""
    name = (name or "auto").strip().lower()
    if name not in BACKENDS:
        raise UnknownBackend(f"unknown backend {name!r} (-D backend=...): "
                             f"choose one of {', '.join(BACKENDS)}")
    if name == "local":
        from support.drivers.local import LocalDriver
        return LocalDriver(), "backend: local (chosen with -D backend=local)"
    available, reason = docker_available()
    if name == "docker":
        if not available:
            raise BackendUnavailable(f"backend docker was asked for but {reason}; start a Docker "
                                     f"engine or use -D backend=local")
        module, _ = _docker_module()
        return module.DockerDriver(), "backend: docker (chosen with -D backend=docker)"
    if available:
        module, _ = _docker_module()
        try:
            return module.DockerDriver(), f"backend: docker ({reason}; -D backend=local to change)"
        except BackendUnavailable as error:
            reason = f"a Docker engine answers but the docker backend cannot run ({error})"
    from support.drivers.local import LocalDriver
    return LocalDriver(), f"backend: local ({reason}, so falling back to local processes)"


# where each capability a backend may lack can be found instead
_ELSEWHERE = {"partition": "try -D backend=docker", "one_sided_cut": "try -D backend=docker",
              "cpu_limit": "try -D backend=docker",
              "small_disk": "run as root on the local backend, or -D backend=docker",
              "etcd": "several masters on etcd need Debian's etcd-server on the local backend "
                      "(make tools installs it as root), or -D backend=docker",
              "restore": "restoring a master from a metalogger needs etcd-server on the local "
                         "backend (make tools), or -D backend=docker"}


def missing_reason(driver: ClusterDriver, missing: list[str]) -> str:
    """Why a scenario needing `missing` capabilities is skipped on `driver`, and what to do."""
    hints = list(dict.fromkeys(_ELSEWHERE.get(m, "try another backend") for m in missing))
    return f"the {driver.name} backend cannot do: {', '.join(missing)} ({'; '.join(hints)})"
