"""The image tag is a content hash of exactly what goes into the image."""

import pathlib

import pytest

from support import docker_images

PYPROJECT = """
[project]
name = "mooseng"
dependencies = ["grpcio>=1.60", "protobuf>=5.26", "prometheus_client>=0.20", "unpinned>=1"]
"""
REQUIREMENTS = "# pins\ngrpcio==1.85.1\nprotobuf==7.36.2  # comment\nprometheus-client==0.26.0\n" \
               "behave==1.3.3\n"


@pytest.fixture
def tree(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "mooseng" / "master").mkdir(parents=True)
    (tmp_path / "mooseng" / "__init__.py").write_text("__version__ = '0.1.0'\n")
    (tmp_path / "mooseng" / "master" / "main.py").write_text("def main(): pass\n")
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM base\n")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    return tmp_path


def _hash(root, base="mooseng-base:1"):
    return docker_images.content_hash(root, ["grpcio==1.85.1", "pip==26.3"], base)


def test_wheel_list_pins_runtime_dependencies_from_requirements():
    wheels = docker_images.wheel_list(PYPROJECT, REQUIREMENTS)
    assert wheels == sorted(["grpcio==1.85.1", "protobuf==7.36.2", "prometheus-client==0.26.0",
                             "unpinned>=1", docker_images.PIP_PIN])
    assert "behave==1.3.3" not in wheels      # test-only packages stay out of the image


def test_hash_is_stable_and_names_twelve_hex_digits(tree):
    assert _hash(tree) == _hash(tree)
    assert len(_hash(tree)) == 12 and int(_hash(tree), 16) >= 0


@pytest.mark.parametrize("change", [
    lambda root: (root / "mooseng" / "master" / "main.py").write_text("def main(): return 1\n"),
    lambda root: (root / "mooseng" / "new.py").write_text("x = 1\n"),
    lambda root: (root / "docker" / "Dockerfile").write_text("FROM other\n"),
    lambda root: (root / "pyproject.toml").write_text(PYPROJECT + "\n# changed\n"),
    lambda root: (root / "mooseng" / "master" / "main.py").rename(root / "mooseng" / "main.py"),
])
def test_hash_changes_with_what_goes_in(tree, change):
    before = _hash(tree)
    change(tree)
    assert _hash(tree) != before


def test_hash_changes_with_wheels_and_base(tree):
    assert docker_images.content_hash(tree, ["grpcio==1.85.0"], "b") != \
        docker_images.content_hash(tree, ["grpcio==1.85.1"], "b")
    assert _hash(tree, "python:3.11-slim") != _hash(tree, "mooseng-base:1")


def test_hash_ignores_bytecode_and_build_metadata(tree):
    before = _hash(tree)
    cache = tree / "mooseng" / "__pycache__"
    cache.mkdir()
    (cache / "main.cpython-311.pyc").write_bytes(b"\0")
    (tree / "mooseng" / "master" / "stray.pyc").write_bytes(b"\0")
    (tree / "mooseng.egg-info").mkdir()
    (tree / "mooseng.egg-info" / "PKG-INFO").write_text("x")
    (tree / "docker" / "README.md").write_text("how the image is built")
    assert _hash(tree) == before


def test_base_tag_is_named_by_its_recipe():
    assert docker_images.base_tag() == docker_images.base_tag()
    assert docker_images.base_tag().startswith(docker_images.BASE_REPO + ":")
