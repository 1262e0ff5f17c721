"""What the application imports is installed by ``requirements.txt`` alone.

Production (Heroku, ``scripts/run.sh``) installs ``requirements.txt``; the test
environment adds ``requirements-dev.txt`` on top, so a library the app needs but that only
the dev file (or one of its tools) brings in passes every other test and then fails the
first request that imports it in production. Here: every third-party module the app's
code imports (at module level or deferred in a function), and every app and middleware
in the settings, must come from a distribution in the dependency closure of
``requirements.txt`` (its pins, their requirements with the extras asked for, and so on).
"""

from __future__ import annotations

import sys
from importlib import metadata

from django.conf import settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.architecture.source import FIRST_PARTY, ROOT, first_party_imports

# Imported inside ``try: ... except ImportError`` with a fallback: not required.
OPTIONAL = {"tqdm": "compositing/segmentation/training/progress.py"}


def _pinned(path) -> list[Requirement]:
    requirements = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirements.append(Requirement(line))
    return requirements


def _closure(requirements: list[Requirement]) -> set[str]:
    """Canonical names of the distributions these requirements install, transitively."""
    seen: set[str] = set()
    pending = [(requirement, frozenset(requirement.extras)) for requirement in requirements]
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        key = name
        if key in seen and not extras:
            continue
        seen.add(key)
        for spec in metadata.requires(requirement.name) or ():
            child = Requirement(spec)
            if child.marker is not None and not any(
                child.marker.evaluate({"extra": extra}) for extra in {"", *extras}
            ):
                continue
            pending.append((child, frozenset(child.extras)))
    return seen


def _third_party_roots() -> dict[str, str]:
    """Top-level third-party module -> where the app imports it (first place found)."""
    roots: dict[str, str] = {}
    for found in first_party_imports(include_third_party=True):
        root = found.imported.split(".")[0]
        if found.first_party or not root or root in sys.stdlib_module_names or root in OPTIONAL:
            continue
        roots.setdefault(root, f"{found.importer}:{found.line}")
    for dotted in (*settings.INSTALLED_APPS, *settings.MIDDLEWARE):
        root = dotted.split(".")[0]
        if root not in FIRST_PARTY and root not in sys.stdlib_module_names:
            roots.setdefault(root, "vbgsite.settings")
    return roots


def test_the_apps_imports_come_from_requirements_txt():
    installed = _closure(_pinned(ROOT / "requirements.txt"))
    providers = metadata.packages_distributions()
    missing = {}
    for root, where in sorted(_third_party_roots().items()):
        distributions = {canonicalize_name(name) for name in providers.get(root, ())}
        if not distributions & installed:
            missing[root] = (where, sorted(distributions) or "not installed at all")
    assert missing == {}, f"imported by the app but not installed by requirements.txt: {missing}"


def test_optional_imports_have_a_fallback():
    for root, path in OPTIONAL.items():
        source = (ROOT / path).read_text()
        guarded = source.split(f"from {root} import", 1)
        assert len(guarded) == 2 and "except ImportError" in guarded[1][:200], root


def test_the_closure_follows_extras_and_markers():
    """The checker itself: an extra's requirements are in, a plain install's are not."""
    closure = _closure([Requirement("django-storages[s3]")])
    assert {"django-storages", "boto3", "botocore"} <= closure
    assert "boto3" not in _closure([Requirement("django-storages")])
