"""The video tests' worker fixtures (``start_worker`` runs ``manage.py run_worker`` on the
test database), for the Redis queue tests here."""

from tests.video.conftest import start_worker, video_model_dir  # noqa: F401
