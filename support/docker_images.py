"""The MooseNG daemon image for the `docker` backend: content-hashed, built without network.

The tag `mooseng:<hash>` is a hash of everything that goes into the image (MooseNG's sources,
pyproject.toml, the files under docker/, the pinned wheel list, the base image), so an image is
rebuilt exactly when one of those changes and a run never tests stale code. No container
registry is reachable on the project's machines, so unless BASE_IMAGE names an image that is
already present (or the user sets it, e.g. to python:3.11-slim on a laptop), the base image is
made locally with debootstrap and tagged by a hash of its recipe. MooseNG and its dependencies
are installed from a wheelhouse made on the host (PyPI is reachable), so on the local base the
build runs with `docker build --network none`.

Run as `python -m support.docker_images` (scripts/build-images.sh does): prints the tag and
writes it to .cache/mooseng-image.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
IMAGE_FILE = CACHE / "mooseng-image"
IMAGE_REPO = "mooseng"
BASE_REPO = "mooseng-base"
DEFAULT_BASE = "python:3.11-slim"
PIP_PIN = "pip==26.3"   # runs from its own wheel inside the image (Debian's python3 has no pip)
# manylinux tags the image's glibc (Debian bookworm, 2.36) runs: pip does not widen one by itself
WHEEL_PLATFORM = ["--only-binary=:all:", "--platform", "manylinux2014_x86_64",
                  "--platform", "manylinux_2_28_x86_64",
                  "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# python3 runs MooseNG; iptables, iproute2 and procps are the suite's fault tools; etcd-server
# is the consensus engine of the several-masters topology
BASE_PACKAGES = "python3,iptables,iproute2,procps,etcd-server"
BASE_RECIPE = (f"debootstrap --variant=minbase --include={BASE_PACKAGES} "
               f"bookworm ROOTFS {DEBIAN_MIRROR}; rm -rf ROOTFS/var/cache/apt/* "
               "ROOTFS/var/lib/apt/lists/*; tar -C ROOTFS -c . | docker import")
KEEP_IMAGES = 3          # MooseNG images kept (the current one and the newest others)
SKIP_PARTS = {"__pycache__"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


class ImageBuildError(RuntimeError):
    """The image could not be built; the message says which step and where its output is."""


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def wheel_list(pyproject: str, requirements: str) -> list[str]:
    """MooseNG's runtime dependencies pinned to the versions of requirements.txt, plus pip.

    A dependency that requirements.txt does not pin keeps its pyproject specifier."""
    pins = {}
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            pins[_name(line)] = line
    deps = tomllib.loads(pyproject)["project"].get("dependencies", [])
    return sorted({pins.get(_name(dep), dep) for dep in deps} | {PIP_PIN})


def source_files(root: pathlib.Path) -> list[pathlib.Path]:
    """Every file that goes into the image, in a stable order."""
    files = [root / "pyproject.toml"]
    for folder in ("mooseng", "docker"):
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not SKIP_PARTS & set(rel.parts) \
                    and path.suffix not in SKIP_SUFFIXES and ".egg-info" not in str(rel) \
                    and not (folder == "docker" and path.suffix == ".md"):
                files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def content_hash(root: pathlib.Path, wheels: list[str], base_image: str) -> str:
    """12 hex digits naming the image: sources, wheel list and base image all count."""
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(("\n".join(wheels) + "\0" + base_image).encode())
    return digest.hexdigest()[:12]


def base_tag() -> str:
    return f"{BASE_REPO}:{hashlib.sha256(BASE_RECIPE.encode()).hexdigest()[:12]}"


def _run(cmd: list[str], what: str, log: pathlib.Path, **kwargs) -> None:
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)
    if result.returncode != 0:
        raise ImageBuildError(f"{what} failed (exit {result.returncode}); output in {log}")


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def _say(message: str) -> None:
    print(f"build-images: {message}", file=sys.stderr, flush=True)


def ensure_base(log: pathlib.Path) -> str:
    """The base image: $BASE_IMAGE if set, python:3.11-slim if present, else a local debootstrap."""
    if os.environ.get("BASE_IMAGE"):
        return os.environ["BASE_IMAGE"]
    if image_exists(DEFAULT_BASE):
        return DEFAULT_BASE
    tag = base_tag()
    if image_exists(tag):
        return tag
    if shutil.which("debootstrap") is None:
        _say("installing debootstrap (apt) ...")
        _run(["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=600", "debootstrap"],
             "apt-get install debootstrap", log,
             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    _say(f"no registry here: building base image {tag} with debootstrap (about a minute) ...")
    with tempfile.TemporaryDirectory(prefix="mooseng-rootfs-") as rootfs:
        _run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
              "bookworm", rootfs, DEBIAN_MIRROR], "debootstrap", log)
        for sub in ("var/cache/apt", "var/lib/apt/lists"):
            for child in pathlib.Path(rootfs, sub).glob("*"):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        _run(["docker", "import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:"
              "/usr/sbin:/usr/bin:/sbin:/bin", "-", tag], "docker import", log, stdin=tar.stdout)
        tar.stdout.close()
        if tar.wait() != 0:
            raise ImageBuildError(f"tar of the debootstrap root failed; see {log}")
    return tag


def wheelhouse(wheels: list[str], log: pathlib.Path) -> pathlib.Path:
    """Wheels of the pinned dependencies for the image's platform (cached by the list's hash)."""
    key = hashlib.sha256("\n".join(wheels + WHEEL_PLATFORM).encode()).hexdigest()[:12]
    folder = CACHE / "wheelhouse" / key
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        _say(f"downloading wheels into {folder} ...")
        _run([sys.executable, "-m", "pip", "download", "-q", *WHEEL_PLATFORM, "-d", str(folder),
              *wheels], "pip download", log)
        (folder / ".complete").touch()
    return folder


def _snapshot(root: pathlib.Path, into: pathlib.Path) -> pathlib.Path:
    """Copy what goes into the image, so that what is hashed is exactly what is built (others
    may be editing the work tree meanwhile) and pip leaves no build files in the work tree."""
    for path in source_files(root):
        target = into / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return into


def mooseng_wheel(source: pathlib.Path, into: pathlib.Path, log: pathlib.Path) -> None:
    isolation = ["--no-build-isolation"] if _has_setuptools() else []
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
          "-w", str(into), str(source)], "pip wheel of MooseNG", log)


def _has_setuptools() -> bool:
    try:
        import setuptools  # noqa: F401
        import wheel  # noqa: F401
    except ImportError:
        return False
    return True


def ensure_image(root: pathlib.Path = ROOT, quiet: bool = False) -> str:
    """The tag of an image holding the current sources; builds it only if it is missing."""
    CACHE.mkdir(exist_ok=True)
    log = CACHE / "build-images.log"
    pyproject = (root / "pyproject.toml").read_text()
    wheels = wheel_list(pyproject, (root / "requirements.txt").read_text())
    with open(CACHE / "build-images.lock", "w") as lock, \
            tempfile.TemporaryDirectory(prefix="mooseng-src-") as snapshot:
        fcntl.flock(lock, fcntl.LOCK_EX)     # two runs starting at once build once
        base = ensure_base(log)
        source = _snapshot(root, pathlib.Path(snapshot))   # hashed and built: the same files
        tag = f"{IMAGE_REPO}:{content_hash(source, wheels, base)}"
        if image_exists(tag):
            if not quiet:
                _say(f"{tag} is up to date")
        else:
            _build(source, wheels, base, tag, log)
    IMAGE_FILE.write_text(tag + "\n")
    return tag


def _build(root: pathlib.Path, wheels: list[str], base: str, tag: str,
           log: pathlib.Path) -> None:
    """The wheelhouse, MooseNG's own wheel, then `docker build --network none`."""
    started = time.monotonic()
    deps = wheelhouse(wheels, log)
    with tempfile.TemporaryDirectory(prefix="mooseng-image-") as context:
        shutil.copytree(root / "docker", context, dirs_exist_ok=True)
        shutil.copytree(deps, pathlib.Path(context, "wheels"),
                        ignore=shutil.ignore_patterns(".complete"))
        mooseng_wheel(root, pathlib.Path(context, "wheels"), log)
        # Only a registry base (python:3.11-slim) lacks iptables and needs apt, so the network.
        network = "none" if base == base_tag() else "default"
        _say(f"building {tag} on {base} (network: {network}) ...")
        _run(["docker", "build", "--network", network, "-q", "--force-rm", "--build-arg",
              f"BASE_IMAGE={base}", "--label", "mooseng.image=1", "-t", tag, context],
             "docker build", log, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    _say(f"built {tag} in {time.monotonic() - started:.1f} s")
    prune_old_images(keep=tag)


def prune_old_images(keep: str, newest: int = KEEP_IMAGES) -> None:
    """Remove all but the newest few MooseNG images (each source change makes one). One still
    used by a container is refused by the engine and stays."""
    listing = subprocess.run(
        ["docker", "images", "--filter", "label=mooseng.image=1", "--format",
         "{{.CreatedAt}}\t{{.Repository}}:{{.Tag}}"], capture_output=True, text=True).stdout
    tags = [line.split("\t")[1] for line in sorted(listing.splitlines(), reverse=True)
            if "\t" in line and line.startswith("20")]
    old = [tag for tag in tags if tag != keep and tag.startswith(IMAGE_REPO + ":")][newest - 1:]
    if old:
        subprocess.run(["docker", "rmi", *old], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    subprocess.run(["docker", "image", "prune", "-f", "--filter", "label=mooseng.image=1"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    try:
        print(ensure_image())
    except ImageBuildError as error:
        print(f"build-images: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
