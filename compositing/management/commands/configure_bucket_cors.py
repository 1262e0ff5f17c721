"""Let the site's pages read the stored files from the S3 bucket (the editor's previews).

    python manage.py configure_bucket_cors [--origin https://studio.example.com ...]

The studio's instant previews draw the stored photo and mask on a canvas; with files in
S3 the browser fetches them from the bucket through presigned URLs, cross-origin, so the
bucket must answer ``GET`` from the site's origin with CORS headers (else the canvas is
tainted and the preview cannot draw). This command puts that rule on the bucket: ``GET``
and ``HEAD`` from the origin of ``VBG_PUBLIC_URL`` (or each ``--origin``). Rules others
put on the bucket are kept; running it again replaces only its own rule. With local files
(no ``AWS_STORAGE_BUCKET_NAME``) there is nothing to configure and it says so. The
Procfile's release phase runs it on every deploy.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser

RULE_ID = "vbg-studio-previews"
MAX_AGE_SECONDS = 3600


def site_origin(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL; CommandError for anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise CommandError(f"{url!r} is not an http:// or https:// URL with a host.")
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def bucket_cors_rules(client: Any, bucket: str) -> list[dict[str, Any]]:
    """The bucket's CORS rules ([] when it has none)."""
    try:
        return client.get_bucket_cors(Bucket=bucket).get("CORSRules", [])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchCORSConfiguration":
            return []
        raise


class Command(BaseCommand):
    help = "Allow the site's origin to read stored files from the S3 bucket (CORS GET)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            help="an origin allowed to read (repeatable); default: VBG_PUBLIC_URL's",
        )

    def handle(self, *args: Any, origin: list[str], **options: Any) -> None:
        bucket = getattr(default_storage, "bucket_name", None)
        if not bucket:
            self.stdout.write("Files are stored locally: no bucket to configure.")
            return
        urls = origin or ([settings.VBG_PUBLIC_URL] if settings.VBG_PUBLIC_URL else [])
        if not urls:
            self.stderr.write(
                "VBG_PUBLIC_URL is not set and no --origin given: the bucket's CORS is left "
                "as it is (the studio's previews need it: see the README)."
            )
            return
        origins = sorted({site_origin(url) for url in urls})
        client = default_storage.connection.meta.client
        ours = {
            "ID": RULE_ID,
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedOrigins": origins,
            "AllowedHeaders": ["*"],
            "MaxAgeSeconds": MAX_AGE_SECONDS,
        }
        try:
            others = [r for r in bucket_cors_rules(client, bucket) if r.get("ID") != RULE_ID]
            client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [*others, ours]})
        except (BotoCoreError, ClientError) as error:
            raise CommandError(f"could not configure the bucket {bucket!r}: {error}") from error
        self.stdout.write(f"Bucket {bucket}: GET and HEAD allowed from {', '.join(origins)}.")
