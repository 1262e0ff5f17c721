"""``manage.py configure_bucket_cors``: the S3 bucket lets the site's pages read the stored
files (the editor's previews draw them on a canvas), against moto's S3 over HTTP."""

from __future__ import annotations

import io

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from compositing.management.commands.configure_bucket_cors import RULE_ID

SITE = "https://studio.example.com"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("configure_bucket_cors", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def rules(s3_storage) -> list[dict]:
    return s3_storage.client.get_bucket_cors(Bucket=s3_storage.bucket_name)["CORSRules"]


def test_the_site_may_read_the_stored_files(s3_storage, settings):
    settings.VBG_PUBLIC_URL = f"{SITE}/studio/"
    out, _ = run()

    assert f"allowed from {SITE}" in out
    (rule,) = rules(s3_storage)
    assert rule["ID"] == RULE_ID and rule["AllowedOrigins"] == [SITE]
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD"]
    # What the browser does: a presigned GET with the page's Origin, answered with CORS.
    name = default_storage.save("composites/x/mask.png", ContentFile(b"png bytes"))
    response = requests.get(default_storage.url(name), headers={"Origin": SITE}, timeout=10)
    assert response.status_code == 200 and response.content == b"png bytes"
    assert response.headers["Access-Control-Allow-Origin"] == SITE


def test_other_rules_are_kept_and_a_rerun_replaces_only_its_own(s3_storage, settings):
    theirs = {"ID": "uploads", "AllowedMethods": ["PUT"], "AllowedOrigins": ["https://a.example"]}
    s3_storage.client.put_bucket_cors(
        Bucket=s3_storage.bucket_name, CORSConfiguration={"CORSRules": [theirs]}
    )
    settings.VBG_PUBLIC_URL = SITE
    run()
    run("--origin", "https://www.example.com/", "--origin", "http://localhost:8000")

    found = {rule["ID"]: rule for rule in rules(s3_storage)}
    assert set(found) == {"uploads", RULE_ID}
    assert found["uploads"]["AllowedMethods"] == ["PUT"]
    assert found[RULE_ID]["AllowedOrigins"] == ["http://localhost:8000", "https://www.example.com"]


def test_without_an_origin_the_bucket_is_left_alone(s3_storage, settings):
    settings.VBG_PUBLIC_URL = ""
    _, err = run()

    assert "VBG_PUBLIC_URL is not set" in err
    with pytest.raises(s3_storage.client.exceptions.ClientError):
        s3_storage.client.get_bucket_cors(Bucket=s3_storage.bucket_name)


@pytest.mark.parametrize("origin", ["studio.example.com", "ftp://files.example.com", "https://"])
def test_a_bad_origin_is_refused(s3_storage, origin):
    with pytest.raises(CommandError, match="not an http"):
        run("--origin", origin)


def test_local_files_need_nothing(settings):
    out, _ = run()
    assert "stored locally" in out
