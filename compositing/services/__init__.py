"""The business rules of composites, one module per job; the only place that decides errors.

- :mod:`.background_choice` — the background resolver photos and videos share;
- :mod:`.photos` — create and re-composite a photo (one render-and-save path);
- :mod:`.drafts` — the studio's drafts (one model run, previews, Save), and their clean-up;
- :mod:`.placement` — the placement options (output size, focus, scale...) parsed once;
- :mod:`.composites` — look up, delete and serve any composite's files;
- :mod:`.video_requests` — upload and queue a video, cancel, progress;
- :mod:`.video_jobs` — the task body on the worker, its monitor, worker hooks;
- :mod:`.video_recovery` — jobs whose worker died;
- :mod:`.zips` — several results as one ZIP download;
- :mod:`.video_queue`, :mod:`.stored_files`, :mod:`.uploads` — the steps they share.

The public service functions are re-exported here: ``from compositing import services``.
"""

from compositing.services.background_choice import background_choice_check
from compositing.services.composites import (
    FILE_KINDS,
    StoredFile,
    composite_delete,
    composite_file,
    composite_get,
)
from compositing.services.drafts import composite_draft_create, composite_drafts_purge
from compositing.services.photos import PHOTO_FORMATS, composite_create, composite_recomposite
from compositing.services.video_jobs import WORKER_SHUTDOWN, composite_video_run
from compositing.services.video_recovery import Recovery, composites_recover_stale
from compositing.services.video_requests import (
    composite_cancel,
    composite_create_video,
    composite_video_status,
    video_progress,
)
from compositing.services.zips import ZIP_MAX_COMPOSITES, composites_zip

__all__ = [
    "FILE_KINDS",
    "PHOTO_FORMATS",
    "WORKER_SHUTDOWN",
    "ZIP_MAX_COMPOSITES",
    "Recovery",
    "StoredFile",
    "background_choice_check",
    "composite_cancel",
    "composite_create",
    "composite_create_video",
    "composite_delete",
    "composite_draft_create",
    "composite_drafts_purge",
    "composite_file",
    "composite_get",
    "composite_recomposite",
    "composite_video_run",
    "composite_video_status",
    "composites_recover_stale",
    "composites_zip",
    "video_progress",
]
