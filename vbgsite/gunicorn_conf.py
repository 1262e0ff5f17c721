"""Gunicorn configuration for the web process (the Procfile's ``web``).

    gunicorn -c python:vbgsite.gunicorn_conf vbgsite.wsgi

- The app is loaded in the master (``preload_app``) and the segmentation model is loaded
  and warmed there too (:func:`compositing.engine.warm_up`, in the ``on_starting`` hook:
  never at import time), so torch, the weights and the traced networks are built once
  and shared copy-on-write by every worker; ``gc.freeze()`` keeps the collector from
  touching (and so copying) those pages.
- Threaded workers (``gthread``): a worker keeps serving history pages, downloads and
  status polls on its other threads while one thread composites, and a client trickling
  its upload in holds one thread, not a whole worker. The CPU-heavy part of a composite is
  bounded per process by ``compositing.engine.compute_slot`` (``VBG_COMPUTE_SLOTS``), with
  torch at one intra-op thread per worker, so ``WEB_CONCURRENCY`` workers never run more
  compute threads than that many cores.

Environment (gunicorn's own settings, read here because Django's settings are not
loaded yet when gunicorn reads its config): ``PORT`` (5000), ``WEB_CONCURRENCY`` (2
workers), ``WEB_THREADS`` (8 threads per worker), ``WEB_TIMEOUT`` (120 s),
``VBG_WARM_MODEL`` (1: load and warm the model in the master; 0: lazily per worker).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import sys
from typing import Any

from compositing.engine import fork_safe_warm_up, worker_started, worker_warm_up
from vbgsite.work_files import work_files_clean_stale

logger = logging.getLogger("gunicorn.error")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not an integer") from None
    if value < 1:
        raise SystemExit(f"{name}={value} must be at least 1")
    return value


bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{_env_int('PORT', 5000)}"]  # noqa: S104
workers = _env_int("WEB_CONCURRENCY", 2)
worker_class = "gthread"
threads = _env_int("WEB_THREADS", 8)
timeout = _env_int("WEB_TIMEOUT", 120)
graceful_timeout = 30
keepalive = 5
preload_app = True
accesslog = "-"
errorlog = "-"
_WARM = os.environ.get("VBG_WARM_MODEL", "1").strip().lower() not in {"0", "false", "no", "off"}


def on_starting(server: Any) -> None:
    """Master, app loaded, before any worker forks: remove work files of killed processes,
    load and warm the model, then freeze the heap the workers will share."""
    work_files_clean_stale()
    if _WARM:
        fork_safe_warm_up(log=logger)
        _import_request_code()
    gc.collect()
    gc.freeze()


# glibc malloc in a worker: buffers over 4 MB (a 1 MP photo's float alpha, anything larger)
# get their own mmap and go back to the kernel when freed, and the heap is trimmed above
# 16 MB; smaller ones (the network's tensors) stay in the heap. Measured in a forked
# worker: 1 MB made the network's own buffers fault in on every call (segment 55 -> 170
# ms); the model's tuning (32/64 MB, for video) let every image buffer pile up in the
# threads' arenas (300-340 MB private per worker after 100 composites). Free heap pages
# are also handed back when the worker pauses (compositing.engine.compute_slot).
# Two arenas for a worker's threads (``VBG_MALLOC_ARENAS``, default 2): its compute runs
# one photo at a time, on the request's thread and the side thread at once, and both
# allocate tensors all the time; sharing one arena they queued on its lock. Measured with
# both builds' web commands side by side (bench_ab, 150 composites each): 34.8 ms with one
# arena, 31.5 ms with two (the detectors 8.3 -> 4.9 ms, the model 18.4 -> 15.1 ms). More
# arenas strand more freed memory between threads: bench_load, private per worker right
# after the burst 143-158 MB with one arena against 163-172 MB with two, 77-89 against
# 101-107 MB after a pause (the idle trim hands free pages of every arena back).
_ARENAS = 2
_MMAP_THRESHOLD = 4 << 20
_TRIM_THRESHOLD = 16 << 20


def _import_request_code() -> None:
    """What a worker's first request would import or build lazily: every view, API and
    serializer module (through the URLconf), the URLs' compiled patterns and the table
    ``reverse`` reads (measured: 19 ms of the first API request, which links its result),
    DRF's configured classes, the fields of the API views' serializers (their model
    metadata's caches: 3.3 against 1.9 ms for the first ``CompositeSerializer``), Pillow's
    format plugins and the compiled base template."""
    from django.template.loader import get_template
    from django.urls import get_resolver
    from PIL import Image
    from rest_framework.settings import api_settings

    resolver = get_resolver()
    _compile_patterns(resolver)  # imports the URLconf and its views
    _build_reverse_tables(resolver, "")
    for name in (
        "DEFAULT_RENDERER_CLASSES",
        "DEFAULT_PARSER_CLASSES",
        "DEFAULT_AUTHENTICATION_CLASSES",
        "DEFAULT_PERMISSION_CLASSES",
        "DEFAULT_THROTTLE_CLASSES",
        "EXCEPTION_HANDLER",
    ):
        getattr(api_settings, name)
    _build_serializer_fields(resolver)
    Image.init()
    get_template("base.html")


def _compile_patterns(resolver: Any) -> None:
    """Every URL pattern's regular expression under ``resolver``, compiled (and cached on
    the pattern, as resolving a path would)."""
    for pattern in resolver.url_patterns:
        pattern.pattern.regex  # noqa: B018 (compiled on first access)
        if hasattr(pattern, "url_patterns"):
            _compile_patterns(pattern)


def _build_serializer_fields(resolver: Any) -> None:
    """The fields of each API view's ``serializer_class`` under ``resolver``, built once
    (a REST framework view's class is its URL pattern's ``callback.cls``)."""
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            _build_serializer_fields(pattern)
            continue
        view = getattr(pattern.callback, "cls", None)
        serializer = getattr(view, "serializer_class", None)
        if serializer is not None:
            serializer().fields  # noqa: B018 (built on first access)


def _build_reverse_tables(resolver: Any, prefix: str) -> None:
    """``reverse()``'s tables: the URLconf's, and for each namespace the resolver that
    ``reverse("namespace:name")`` builds and caches on first use (any name will do: the
    table is built before the name is looked up)."""
    from django.urls import NoReverseMatch, reverse

    for namespace, (_, sub_resolver) in resolver.namespace_dict.items():
        with contextlib.suppress(NoReverseMatch):
            reverse(f"{prefix}{namespace}:-")
        _build_reverse_tables(sub_resolver, f"{prefix}{namespace}:")


def post_worker_init(worker: Any) -> None:
    """In each worker, app loaded, before its first request: the photo path once (its
    copy-on-write faults and lazy per-process state now, not in someone's composite), and
    the request threads started with their database connections open."""
    if _WARM:
        worker_warm_up()
        _connect_request_threads(worker)


def _connect_request_threads(worker: Any) -> None:
    """Start every thread of a ``gthread`` worker's pool, open its database connection
    (kept ``DB_CONN_MAX_AGE`` seconds, one per thread) and run one query through the ORM
    (the query compiler's first use imports and caches), so a worker's first requests do
    not (measured with SQLite: 8-9 ms of a worker's first API request; a remote PostgreSQL
    with TLS takes longer to connect). The pool starts a thread per task while none is
    idle: the tasks wait for each other so that each gets its own. A database that does
    not answer costs at most its connect timeout here, logged; requests then connect (and
    fail) as they would have."""
    import threading
    from concurrent.futures import wait

    from django.contrib.auth import get_user_model
    from django.db import connection

    pool = getattr(worker, "tpool", None)  # gthread's; other worker classes have none
    if pool is None:
        return
    count = max(1, int(worker.cfg.threads))
    all_started = threading.Barrier(count)

    def connect() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            all_started.wait(timeout=5)
        try:
            connection.ensure_connection()
            get_user_model().objects.filter(pk=0).exists()
        except Exception:  # the first request reports it, as it would have
            logger.warning("a request thread could not connect to the database", exc_info=True)

    wait([pool.submit(connect) for _ in range(count)], timeout=15)


def child_exit(server: Any, worker: Any) -> None:
    """Master, after a worker exited (or was killed: timeout, out of memory): remove the
    upload files it could not (``vbg-*-<its pid>-*``)."""
    work_files_clean_stale(pid=worker.pid)


def post_fork(server: Any, worker: Any) -> None:
    """In each worker: two malloc arenas (each thread would get its own), image buffers
    returned to the kernel when freed, the worker's own torch thread count and database
    connections."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(-8, _env_int("VBG_MALLOC_ARENAS", _ARENAS))  # M_ARENA_MAX
            libc.mallopt(-3, _MMAP_THRESHOLD)
            libc.mallopt(-1, _TRIM_THRESHOLD)
        except (OSError, AttributeError):
            pass
    worker_started()
