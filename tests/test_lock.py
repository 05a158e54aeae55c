"""requirements.lock (what make setup installs, the versions results/ was measured with) agrees with pyproject.toml."""

import os
import re

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Backend-independent: make test runs these on its first backend only.
pytestmark = pytest.mark.any_backend

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
LOCKED_EXTRAS = ("test", "notebooks")  # what make setup installs beside the dependencies


def locked_versions(text):
    """`{canonical name: version}` of the `name==version` pins of a uv / pip-tools lock file."""
    return {canonicalize_name(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", text, re.M)}


def disagreements(pyproject, lock_text):
    """Requirements of `pyproject` (dependencies and the locked extras) that the lock misses or pins outside."""
    project = tomllib.loads(pyproject)["project"]
    extras = project["optional-dependencies"]
    wanted = [*project["dependencies"], *(r for extra in LOCKED_EXTRAS for r in extras[extra])]
    pins, found = locked_versions(lock_text), []
    for line in wanted:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"python_version": "3.11"}):
            continue
        version = pins.get(canonicalize_name(requirement.name))
        if version is None:
            found.append(f"{requirement.name}: not in the lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{requirement.name}: locked {version}, pyproject.toml asks {requirement.specifier}")
        for extra in requirement.extras:  # jax[cpu] pulls jaxlib
            if extra == "cpu" and canonicalize_name(requirement.name) == "jax" and "jaxlib" not in pins:
                found.append("jax[cpu]: jaxlib not in the lock")
    return found


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def test_the_lock_pins_every_requirement_of_pyproject_within_its_range():
    assert disagreements(_read("pyproject.toml"), _read("requirements.lock")) == []


def test_every_pin_has_hashes():
    lock = _read("requirements.lock")
    pins = re.findall(r"^[A-Za-z0-9._-]+==\S+ \\\n((?:\s+--hash=sha256:[0-9a-f]{64}.*\n)+)", lock, re.M)
    assert len(pins) == len(locked_versions(lock)) > 50


def test_a_disagreement_is_seen():
    """The check can fail: a range the lock's pin falls outside of, and a dependency the lock lacks."""
    pyproject = (
        _read("pyproject.toml")
        .replace('"keras>=3.5"', '"keras>=99"')
        .replace('"tqdm>=4.66",', '"tqdm>=4.66",\n  "no-such-package>=1",')
    )
    found = disagreements(pyproject, _read("requirements.lock"))
    assert any(f.startswith("keras: locked") for f in found) and "no-such-package: not in the lock" in found
