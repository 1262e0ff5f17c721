"""Errors people can cause on account pages and the token API.

They are ``vbgsite.errors.AppError``s (``code``, ``message``,
``http_status``, ``as_dict()``) so the website and the API map them in the same place.
"""

from vbgsite.errors import AppError


class TokenLimitReached(AppError):
    code = "token_limit_reached"
    http_status = 400
    default_message = "You have reached the maximum number of API tokens; revoke one first."


class InvalidTokenName(AppError):
    code = "invalid_token_name"
    http_status = 400
    default_message = "Give the token a name (up to 100 characters)."


class StorageUnavailable(AppError):
    code = "storage_unavailable"
    http_status = 503
    default_message = (
        "File storage cannot be reached right now, so your account was not deleted:"
        " nothing has changed. Please try again in a few minutes."
    )
