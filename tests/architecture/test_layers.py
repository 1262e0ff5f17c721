"""The layering rules of ARCHITECTURE.md, checked on the source (no imports executed).

Every first-party import is read from the syntax tree, at module level and inside
functions, so a cycle hidden in a function body is still a cycle.
"""

from __future__ import annotations

import pytest

from tests.architecture.source import (
    HEAVY_LIBRARIES,
    FirstPartyImport,
    app_modules,
    first_party_imports,
    function_lengths,
    import_cycles,
    module_lines,
)

PURE = (
    "vbgsite.errors",
    "compositing.imaging",
    "compositing.mattes",
    "compositing.jpeg_strip",
    "compositing.jpeg_codec",
    "compositing.thumbnails",
    "compositing.srgb",
    "compositing.compose",
    "compositing.compose_arrays",
    "compositing.cover",
    "compositing.side_threads",
    "compositing.heap",
    "compositing.compose_stats",
    "compositing.compose_kernels",
    "compositing.placement",
)
PURE_PACKAGES = ("compositing.video", "compositing.segmentation")
SERVICES = ("compositing.services", "backgrounds.services", "accounts.services")
# Modules that turn HTTP into service calls: the website's views and the DRF API views.
VIEW_SUFFIXES = ("views", "api", "video_views")
# What a service may never depend on: the interfaces above it.
INTERFACE_SUFFIXES = ("views", "api", "video_views", "forms", "serializers")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _is_pure(module: str) -> bool:
    return module in PURE or any(
        module == package or module.startswith(package + ".") for package in PURE_PACKAGES
    )


def _is_service(module: str) -> bool:
    return any(module == s or module.startswith(s + ".") for s in SERVICES)


def _last(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def _describe(found: list[FirstPartyImport]) -> str:
    lines = dict.fromkeys(f"  {i.importer} -> {i.imported} (line {i.line})" for i in found)
    return "\n".join(lines)


def test_there_are_no_import_cycles():
    cycles = import_cycles()
    assert not cycles, "import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in cycles)


def test_pure_modules_import_no_django_and_nothing_above_them():
    wrong = [
        i
        for i in first_party_imports(include_third_party=True)
        if _is_pure(i.importer)
        and (
            i.imported.split(".")[0] in {"django", "rest_framework", "storages", "boto3"}
            or (i.first_party and not _is_pure(i.imported))
        )
    ]
    assert not wrong, "pure modules importing Django or higher layers:\n" + _describe(wrong)


def test_services_import_no_views_api_forms_or_serializers():
    wrong = [
        i
        for i in first_party_imports()
        if _is_service(i.importer) and _last(i.imported) in INTERFACE_SUFFIXES
    ]
    assert not wrong, "services importing an interface module:\n" + _describe(wrong)


def test_view_modules_do_not_import_each_other():
    wrong = [
        i
        for i in first_party_imports()
        if _last(i.importer) in VIEW_SUFFIXES
        and _last(i.imported) in VIEW_SUFFIXES
        and i.importer != i.imported
    ]
    assert not wrong, "view modules importing each other:\n" + _describe(wrong)


def test_imports_inside_functions_only_defer_heavy_libraries():
    heavy = HEAVY_LIBRARIES
    wrong = [
        i for i in first_party_imports() if i.in_function and not i.defers_heavy_library(heavy)
    ]
    assert not wrong, (
        "first-party imports inside functions that do not defer "
        f"{', '.join(sorted(heavy))}:\n" + _describe(wrong)
    )


@pytest.mark.parametrize("module", app_modules(), ids=str)
def test_app_module_is_small(module):
    assert module_lines(module) <= MAX_MODULE_LINES


def test_no_function_body_is_longer_than_60_lines():
    long = [
        f"  {path}:{line} {name} ({length} lines)"
        for path, line, name, length in function_lengths()
        if length > MAX_FUNCTION_LINES
    ]
    assert not long, "functions over 60 lines:\n" + "\n".join(long)
