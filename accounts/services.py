"""Account operations: API tokens and account deletion. Views and the API call these."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.storage import Storage, default_storage
from django.db import transaction

from accounts.errors import InvalidTokenName, StorageUnavailable, TokenLimitReached
from accounts.models import ApiToken, token_digest
from backgrounds.models import Background
from compositing.models import Composite
from compositing.services.webhooks import callback_url_check
from vbgsite.errors import NotFound

logger = logging.getLogger(__name__)

MAX_TOKENS_PER_USER = 20
KEY_PREFIX = "vbg_"
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Create a named API token for ``user``.

    Returns the row and the key. The key is not stored (only its SHA-256), so this is the
    only time it can be shown. Raises InvalidTokenName, TokenLimitReached.
    """
    name = (name or "").strip()
    if not name or len(name) > ApiToken._meta.get_field("name").max_length:
        raise InvalidTokenName()
    with transaction.atomic():
        # Lock the person's row so two concurrent creations cannot both pass the limit.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(owner=user).count() >= MAX_TOKENS_PER_USER:
            raise TokenLimitReached(
                f"You already have {MAX_TOKENS_PER_USER} API tokens; revoke one first."
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
        token = ApiToken.objects.create(
            owner=user,
            name=name,
            prefix=key[:12],
            key_digest=token_digest(key),
            webhook_secret=webhook_secret_new(),
        )
    return token, key


def webhook_secret_new() -> str:
    """A new key for signing webhooks (HMAC-SHA256): ``whsec_`` and 256 random bits."""
    return WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32)


def token_webhook_set(
    *, user: AbstractBaseUser, token_id: int, callback_url: str | None, rotate_secret: bool
) -> tuple[ApiToken, str | None]:
    """Set the default ``callback_url`` of one of ``user``'s tokens ("" clears it) and, with
    ``rotate_secret`` (or when it has none), give it a new webhook secret.

    Returns the token and the new secret (None when unchanged): like the key, it is shown
    only this once. Raises NotFound (another person's token), InvalidOption (bad URL).
    """
    token = ApiToken.objects.filter(owner=user, pk=token_id).first()
    if token is None:
        raise NotFound("This token does not exist.")
    fields = []
    if callback_url is not None:
        token.callback_url = callback_url_check(callback_url)
        fields.append("callback_url")
    secret = None
    if rotate_secret or not token.webhook_secret:
        secret = token.webhook_secret = webhook_secret_new()
        fields.append("webhook_secret")
    if fields:
        token.save(update_fields=fields)
    return token, secret


def token_revoke(*, user: AbstractBaseUser, token_id: int) -> None:
    """Delete one of ``user``'s tokens; another person's (or a missing) id raises NotFound."""
    deleted, _ = ApiToken.objects.filter(owner=user, pk=token_id).delete()
    if not deleted:
        raise NotFound("This token does not exist.")


def password_change(*, user: AbstractBaseUser, new_password: str) -> int:
    """Set ``user``'s password (already validated) and revoke every API token of theirs.

    A password change signs other sessions out (their session hash no longer matches);
    tokens are revoked with it, so a leaked key stops working too. One transaction: the new
    password never stands with the old tokens. Returns the number of tokens revoked.
    """
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        revoked, _ = ApiToken.objects.filter(owner=user).delete()
    if revoked:
        logger.info("password change for %s revoked %d API tokens", user.pk, revoked)
    return revoked


def _walk(storage: Storage, folder: str) -> Iterator[str]:
    """Every file name under ``folder`` (recursively), for the local file system and S3."""
    try:
        directories, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for file_name in files:
        yield f"{folder}/{file_name}"
    for directory in directories:
        yield from _walk(storage, f"{folder}/{directory}")


def account_delete(*, user: AbstractBaseUser) -> int:
    """Delete ``user``: first every file of theirs from storage, then the rows.

    Files named by their backgrounds and composites (``file_names()``) are deleted, then
    anything else left under their ``users/<id>/`` folder (left by an interrupted upload,
    say). Storage is listed first: when it cannot be reached, StorageUnavailable is raised
    before anything changes. Files go before rows, so a storage failure part-way leaves the
    account (and its tokens) in place to retry, never rows gone and files orphaned.
    Returns the number of files deleted.
    """
    names: list[str] = []
    for background in Background.objects.filter(owner=user):
        names.extend(background.file_names())
    for composite in Composite.objects.filter(owner=user):
        names.extend(composite.file_names())

    try:
        # Listing reaches the storage (S3 over HTTP) before the first delete.
        strays = [name for name in _walk(default_storage, f"users/{user.pk}") if name not in names]
        for name in [*names, *strays]:
            default_storage.delete(name)  # a missing file is not an error
    except Exception as error:  # botocore and OSError alike: the storage failed
        logger.exception("account %s not deleted: storage failed", user.pk)
        raise StorageUnavailable() from error
    _remove_empty_local_folders(default_storage, f"users/{user.pk}")

    with transaction.atomic():
        # Rows of backgrounds, composites and tokens go with the user (CASCADE).
        user.delete()
    deleted = len(names) + len(strays)
    logger.info("deleted account %s and %d files", user.pk, deleted)
    return deleted


def _remove_empty_local_folders(storage: Storage, folder: str) -> None:
    """The file system keeps empty folders after deletes; remove the person's (best effort)."""
    try:
        root = storage.path(folder)
    except NotImplementedError:
        return  # object storage has no folders
    if not os.path.isdir(root):
        return
    for current, _dirs, _files in os.walk(root, topdown=False):
        with contextlib.suppress(OSError):  # not empty: written meanwhile; leave it
            os.rmdir(current)
