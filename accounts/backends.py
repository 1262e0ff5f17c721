"""Sign-in by username without regard to case.

Sign-up already refuses a username that differs from an existing one only in case
(Django's ``UserCreationForm``), so "Alice" and "alice" are one account and signing in
should not depend on how it is typed. Passwords stay case-sensitive.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class CaseInsensitiveModelBackend(ModelBackend):
    """Django's ModelBackend, finding the user by a case-insensitive username."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        model = get_user_model()
        if username is None:
            username = kwargs.get(model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        matches = list(
            model._default_manager.filter(**{f"{model.USERNAME_FIELD}__iexact": username})[:2]
        )
        # Accounts made before sign-up compared case: an exact match wins, an ambiguous
        # one signs no one in.
        exact = [user for user in matches if user.get_username() == username]
        user = exact[0] if exact else (matches[0] if len(matches) == 1 else None)
        if user is None:
            model().set_password(password)  # as ModelBackend: same time as a real check
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
