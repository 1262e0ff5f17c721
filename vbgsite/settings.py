"""Settings for the virtual background studio.

One module, configured by environment variables with explicit defaults. The defaults are
the laptop set-up (SQLite, local files, DEBUG off unless asked); production reads
DATABASE_URL, AWS_STORAGE_BUCKET_NAME and friends. Bad values fail loudly at start-up.
"""

import os
from pathlib import Path

import dj_database_url
from botocore.config import Config as BotoConfig
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

# A development key is only acceptable when DEBUG is on; production must set its own.
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG or env_bool("VBG_ALLOW_INSECURE_KEY", False):
        SECRET_KEY = "django-insecure-development-key-not-for-production"  # noqa: S105
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off "
            "(for local development set DEBUG=1 or VBG_ALLOW_INSECURE_KEY=1)"
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks_db",
    "django_tasks_redis",
    "accounts",
    "backgrounds",
    "compositing",
    "vbgsite.apps.VbgsiteConfig",  # the database query deadline (vbgsite/dependencies.py)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Storage/database timeouts -> a 503 page or JSON (sessions and auth below read the DB).
    "vbgsite.dependencies.DependencyFailureMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # X-RateLimit-* on API answers (and Retry-After on a 429), from vbgsite.rate_limits.
    "vbgsite.rate_limits.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "vbgsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",  # {{ csp_nonce }}
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "vbgsite.wsgi.application"
ASGI_APPLICATION = "vbgsite.asgi.application"

# Database: SQLite on a laptop, DATABASE_URL (PostgreSQL) in production and CI.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# A database that does not answer fails the request within seconds (a 503): connect
# timeout, the server's statement_timeout, and a client-side deadline a little after it
# (vbgsite/dependencies.py: a frozen server or network never answers a timeout).
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 5, minimum=1)
DB_STATEMENT_TIMEOUT_MS = env_int("DB_STATEMENT_TIMEOUT_MS", 10_000, minimum=0)
# 0 turns both off (the release phase's migrations: `DB_STATEMENT_TIMEOUT_MS=0`).
DB_QUERY_DEADLINE_SECONDS = env_int(
    "DB_QUERY_DEADLINE_SECONDS",
    DB_STATEMENT_TIMEOUT_MS // 1000 + 5 if DB_STATEMENT_TIMEOUT_MS else 0,
    minimum=0,
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = DB_CONNECT_TIMEOUT
    if DB_STATEMENT_TIMEOUT_MS:
        DATABASES["default"]["OPTIONS"]["options"] = (
            f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}"
        )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and the task worker share one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: shared across gunicorn workers (rate limits, sign-in throttling). Redis when
# REDIS_URL is set, otherwise a database table (created by `createcachetable`).
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "vbg_cache",
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed sign-ins per username and client address before further attempts are refused
# (HTTP 429) for the rest of the window. VBG_PROXY_HOPS: trusted proxies appending to
# X-Forwarded-For in front of the app (Heroku's router: 1; 0 uses REMOTE_ADDR).
VBG_LOGIN_MAX_FAILURES = env_int("VBG_LOGIN_MAX_FAILURES", 5, minimum=1)
VBG_LOGIN_LOCKOUT_SECONDS = env_int("VBG_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
VBG_PROXY_HOPS = env_int("VBG_PROXY_HOPS", 0)
# Usernames are matched without regard to case when signing in (accounts/backends.py).
AUTHENTICATION_BACKENDS = ["accounts.backends.CaseInsensitiveModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "compositing:studio"
LOGOUT_REDIRECT_URL = "accounts:login"

# Email (password reset), as Django's MAILERS: printed to the console unless
# EMAIL_BACKEND names another backend. The SMTP backend
# (django.core.mail.backends.smtp.EmailBackend) reads EMAIL_HOST, EMAIL_PORT,
# EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS / EMAIL_USE_SSL, EMAIL_TIMEOUT.
# Reset links last PASSWORD_RESET_TIMEOUT seconds.
EMAIL_BACKEND_PATH = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
_email_options: dict = {}
if EMAIL_BACKEND_PATH.endswith(".smtp.EmailBackend"):
    _use_tls, _use_ssl = env_bool("EMAIL_USE_TLS", False), env_bool("EMAIL_USE_SSL", False)
    if _use_tls and _use_ssl:
        raise ImproperlyConfigured("Set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL")
    _email_options = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 465 if _use_ssl else 587 if _use_tls else 25, minimum=1),
        "username": env_str("EMAIL_HOST_USER"),
        "password": env_str("EMAIL_HOST_PASSWORD"),
        "use_tls": _use_tls,
        "use_ssl": _use_ssl,
        "timeout": env_int("EMAIL_TIMEOUT", 10, minimum=1),
    }
MAILERS = {"default": {"BACKEND": EMAIL_BACKEND_PATH, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Background Studio <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 2 * 3600, minimum=60)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files: served by whitenoise, compressed and fingerprinted in production.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Media: never under a public URL. Local files live outside the static tree and are
# served only through views that check the owner; S3 objects are private and reached
# through short-lived presigned URLs.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
# S3 that does not answer fails the request within seconds (a 503), not when gunicorn
# kills the worker: connect and read timeouts (seconds) and attempts in all per call.
AWS_S3_CONNECT_TIMEOUT = env_int("AWS_S3_CONNECT_TIMEOUT", 3, minimum=1)
AWS_S3_READ_TIMEOUT = env_int("AWS_S3_READ_TIMEOUT", 5, minimum=1)
AWS_S3_MAX_ATTEMPTS = env_int("AWS_S3_MAX_ATTEMPTS", 2, minimum=1)
if AWS_STORAGE_BUCKET_NAME:
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env_int("AWS_QUERYSTRING_EXPIRE", 300, minimum=1),
            "file_overwrite": False,
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",
            "client_config": BotoConfig(
                signature_version="s3v4",
                connect_timeout=AWS_S3_CONNECT_TIMEOUT,
                read_timeout=AWS_S3_READ_TIMEOUT,
                retries={"max_attempts": AWS_S3_MAX_ATTEMPTS, "mode": "standard"},
                s3={"addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or None},
            ),
        },
    }
else:
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None},
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Tasks (videos), worked by `manage.py run_worker` (Procfile `worker`): VBG_TASKS_BACKEND
# "db" (django-tasks-db: task rows in the database, the embedded default) or "redis"
# (django-tasks-redis on REDIS_URL: any number of workers on any number of machines; the
# default when REDIS_URL is set). A dotted backend path is taken as is.
VBG_TASKS_BACKEND = env_str("VBG_TASKS_BACKEND", "redis" if REDIS_URL else "db").strip()
if VBG_TASKS_BACKEND == "db":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
elif VBG_TASKS_BACKEND == "redis":
    if not REDIS_URL:
        raise ImproperlyConfigured("VBG_TASKS_BACKEND=redis needs REDIS_URL")
    TASKS = {
        "default": {
            "BACKEND": "django_tasks_redis.RedisTaskBackend",
            "OPTIONS": {
                "REDIS_URL": env_str("VBG_TASKS_REDIS_URL", REDIS_URL),
                # Keys under this prefix: several deployments (or test runs) share a Redis.
                "REDIS_KEY_PREFIX": env_str("VBG_TASKS_REDIS_PREFIX", "vbg_tasks"),
                # Finished tasks are kept a day (the composite row holds the outcome).
                "REDIS_COMPLETED_TASK_TTL": env_int("VBG_TASKS_RESULT_TTL", 86400, minimum=60),
                # A dead worker's message is delivered again after this (our own recovery,
                # from the job's heartbeat, re-queues it after VBG_VIDEO_STALE_SECONDS).
                "REDIS_CLAIM_TIMEOUT": env_int("VBG_TASKS_CLAIM_TIMEOUT", 300, minimum=1),
            },
        }
    }
elif "." in VBG_TASKS_BACKEND:
    TASKS = {"default": {"BACKEND": VBG_TASKS_BACKEND}}
else:
    raise ImproperlyConfigured(f"VBG_TASKS_BACKEND={VBG_TASKS_BACKEND!r} must be db or redis")

# Segmentation model.
VBG_MODEL_DIR = Path(env_str("VBG_MODEL_DIR", str(BASE_DIR / "models")))
VBG_SEGMENTER = env_str("VBG_SEGMENTER", "selfie")
VBG_TORCH_THREADS = env_int("VBG_TORCH_THREADS", 0)  # 0 = torch's default (web workers: 1)
# Where the networks run: auto (CUDA when torch sees a GPU), cpu or cuda.
VBG_DEVICE = env_str("VBG_DEVICE", "auto").strip().lower()
if VBG_DEVICE not in {"auto", "cpu", "cuda"}:
    raise ImproperlyConfigured(f"VBG_DEVICE={VBG_DEVICE!r} must be auto, cpu or cuda")
# Photos composited at once per web process (decode, segment, compose, encode); requests
# beyond that wait their turn on other threads instead of sharing the same cores.
VBG_COMPUTE_SLOTS = env_int("VBG_COMPUTE_SLOTS", 1, minimum=1)
# Threads per web process that run a photo's independent stages beside it (detectors
# beside the model, the mask's PNG beside the compose...): compositing.engine.compute_beside.
# 1 (default) makes a composite quicker when the second core is free (bench_load 1 MP 35 ->
# 33 ms, bench_big_photo 12 MP 0.24 -> 0.17 s); 0 runs every stage in the request's own
# thread. With glibc's default of an arena per thread the side thread's allocations
# fragmented the heap (128-178 MB private per worker at rest); web workers now keep one
# arena (vbgsite.gunicorn_conf).
VBG_SIDE_THREADS = env_int("VBG_SIDE_THREADS", 1, minimum=0)
# Threads per process that store a composite's files side by side with the request's own
# thread on S3 (compositing.services.stored_files): its 4 files' round trips (a HEAD and a
# PUT each) overlap instead of queueing. Each thread keeps its own S3 session (django-storages
# makes one per thread, ~17 MB), so few; 0 stores them one after the other (as local files
# always are).
VBG_STORAGE_THREADS = env_int("VBG_STORAGE_THREADS", 2, minimum=0)
# Library backgrounds covered to an output size, kept per process (least recently used;
# compositing.services.background_cache): a hit skips reading, decoding and resizing the
# background (~40 ms of a 1 MP composite). Megabytes of pixels; 0 turns it off.
VBG_BACKGROUND_CACHE_MB = env_int("VBG_BACKGROUND_CACHE_MB", 24, minimum=0)

# Upload limits and quotas.
VBG_MAX_UPLOAD_BYTES = env_int("VBG_MAX_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=1)
VBG_MAX_IMAGE_PIXELS = env_int("VBG_MAX_IMAGE_PIXELS", 50_000_000, minimum=1)
VBG_MIN_IMAGE_SIDE = env_int("VBG_MIN_IMAGE_SIDE", 32, minimum=1)
VBG_BACKGROUND_QUOTA = env_int("VBG_BACKGROUND_QUOTA", 50, minimum=0)
VBG_MAX_VIDEO_BYTES = env_int("VBG_MAX_VIDEO_BYTES", 200 * 1024 * 1024, minimum=1)
VBG_MAX_VIDEO_SECONDS = env_int("VBG_MAX_VIDEO_SECONDS", 600, minimum=1)
VBG_MAX_VIDEO_SIDE = env_int("VBG_MAX_VIDEO_SIDE", 1920, minimum=1)
# Frames with more pixels are refused from the probe's header, before any decoding
# (default 4096 x 2160, DCI 4K; larger accepted frames are scaled to VBG_MAX_VIDEO_SIDE).
VBG_MAX_VIDEO_PIXELS = env_int("VBG_MAX_VIDEO_PIXELS", 4096 * 2160, minimum=1)
# Video jobs (compositing/video_services.py): a running job whose heartbeat is older than
# VBG_VIDEO_STALE_SECONDS lost its worker and is re-queued, up to VBG_VIDEO_MAX_ATTEMPTS
# runs in all; libx264 preset and CRF of the H.264 output.
VBG_VIDEO_MAX_ATTEMPTS = env_int("VBG_VIDEO_MAX_ATTEMPTS", 3, minimum=1)
VBG_VIDEO_STALE_SECONDS = env_int("VBG_VIDEO_STALE_SECONDS", 60, minimum=1)
VBG_VIDEO_PRESET = env_str("VBG_VIDEO_PRESET", "superfast")
VBG_VIDEO_CRF = env_int("VBG_VIDEO_CRF", 20, minimum=0)
# Work files (vbgsite/work_files.py): large uploads, video copies and video work folders,
# named vbg-<kind>-<pid>-...; a killed process's are removed at the next start (and any
# older than VBG_WORK_MAX_AGE_SECONDS). VBG_WORK_DIR: default the system's temp folder.
VBG_WORK_DIR = env_str("VBG_WORK_DIR", "")
VBG_WORK_MAX_AGE_SECONDS = env_int("VBG_WORK_MAX_AGE_SECONDS", 86400, minimum=60)
# The task worker's storage sweep (manage.py sweep_storage --delete): every this many
# seconds (once a day), 0 to turn it off.
VBG_SWEEP_INTERVAL_SECONDS = env_int("VBG_SWEEP_INTERVAL_SECONDS", 86400, minimum=0)
# Video-job webhooks (compositing/services/webhooks.py): timeout per call, the waits
# before each retry (comma-separated seconds; one attempt more than waits), whether
# loopback addresses may be called (tests, local development; private, link-local and
# reserved addresses never are), and this site's public base URL for the links in the
# body ("https://vbg.example.com"; empty: the links are paths).
VBG_WEBHOOK_TIMEOUT_SECONDS = env_int("VBG_WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
VBG_WEBHOOK_BACKOFF_SECONDS = [
    int(part) for part in env_str("VBG_WEBHOOK_BACKOFF_SECONDS", "10,60,300,1800,7200").split(",")
]
VBG_WEBHOOK_ALLOW_LOOPBACK = env_bool("VBG_WEBHOOK_ALLOW_LOOPBACK", False)
VBG_PUBLIC_URL = env_str("VBG_PUBLIC_URL", "")
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "vbgsite.work_files.WorkFileUploadHandler",
]
# Django refuses request bodies above this before our own checks see them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# REST API.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Several named tokens per person (accounts.ApiToken): "Authorization: Token <key>".
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON nested too deeply is a 400 (vbgsite/parsers.py); forms and multipart as usual.
    "DEFAULT_PARSER_CLASSES": [
        "vbgsite.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_THROTTLE_CLASSES": [
        "vbgsite.throttles.UserRateThrottle",
        "vbgsite.throttles.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("VBG_API_RATE_USER", "600/hour"),
        "composite": env_str("VBG_API_RATE_COMPOSITE", "120/hour"),
        "anon": env_str("VBG_API_RATE_ANON", "60/hour"),
        "auth": env_str("VBG_API_RATE_AUTH", "20/hour"),
    },
    "EXCEPTION_HANDLER": "vbgsite.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Virtual background studio API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Separate request/response components, so multipart file fields appear as binary.
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the errors it can answer (401, 404, 429 with Retry-After...).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "vbgsite.api_schema.add_error_responses",
    ],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # No calls to swagger.io's validator: the docs page uses our own static files only.
    "SWAGGER_UI_SETTINGS": {
        "deepLinking": True,
        "persistAuthorization": True,
        "validatorUrl": None,
    },
}

# Security: safe defaults in production (DEBUG off).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# X-Forwarded-Proto says "the client used HTTPS" only when a proxy of ours set it: behind
# VBG_PROXY_HOPS trusted proxies (Heroku's router overwrites the header). With no proxy,
# any client could send it, so it is ignored.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if VBG_PROXY_HOPS else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy on every page (django.middleware.csp): scripts and styles only
# from our own static files or carrying the response's nonce; no inline event handlers or
# style attributes. Images and video may also come from the media bucket (presigned S3
# redirects) and from blob:/data: URLs the studio makes. The API docs loosen styles only
# (vbgsite/api_schema.py).
_MEDIA_ORIGINS = []
if AWS_STORAGE_BUCKET_NAME:
    _endpoint = env_str("AWS_S3_ENDPOINT_URL")
    _MEDIA_ORIGINS = [_endpoint.rstrip("/")] if _endpoint else ["https://*.amazonaws.com"]
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", "blob:", *_MEDIA_ORIGINS],
    "media-src": [CSP.SELF, "blob:", *_MEDIA_ORIGINS],
    "connect-src": [CSP.SELF, *_MEDIA_ORIGINS],
    "font-src": [CSP.SELF, "data:"],
    "worker-src": [CSP.SELF, "blob:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
