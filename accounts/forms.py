"""Forms for the account pages."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    SetPasswordForm,
    UserCreationForm,
)

from accounts import throttle
from accounts.models import ApiToken

THROTTLED = "throttled"  # the error code of a refused (throttled) sign-in attempt


# Which field a weak password's errors ("too common", "too short"...) belong to: the one
# where the password was chosen, not its confirmation.
_CHOSEN_PASSWORD_FIELD = {"password2": "password1", "new_password2": "new_password1"}


class PasswordErrorsOnChosenFieldMixin:
    """Django's password forms report a weak password under the confirmation field; this
    reports it under the field where the password was typed first."""

    def validate_password_for_user(self, user, password_field_name="password2", **kwargs):  # noqa: S107
        field = _CHOSEN_PASSWORD_FIELD.get(password_field_name, password_field_name)
        return super().validate_password_for_user(user, password_field_name=field, **kwargs)


class LoginForm(AuthenticationForm):
    """Django's sign-in form, saying what is true here: only the password is case-sensitive
    (usernames are matched without regard to case, ``accounts/backends.py``)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "Please enter a correct username and password. "
            "The password is case-sensitive; the username is not."
        ),
    }


class StudioPasswordChangeForm(PasswordErrorsOnChosenFieldMixin, PasswordChangeForm):
    pass


class StudioSetPasswordForm(PasswordErrorsOnChosenFieldMixin, SetPasswordForm):
    pass


class SignUpForm(PasswordErrorsOnChosenFieldMixin, UserCreationForm):
    """Username, email and password (checked by AUTH_PASSWORD_VALIDATORS)."""

    email = forms.EmailField(
        max_length=254,
        help_text="Used only to tell you about your account.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    # No "this email is taken" error: it would tell anyone whether an address has an
    # account here. Email is not a sign-in name, so two accounts may share one.
    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("This password is not correct.")
        return password


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What will use it, e.g. “laptop script” or “phone”.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. laptop script", "autocomplete": "off"}),
    )


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in form with the site sign-in's throttling (``accounts.throttle``).

    After ``VBG_LOGIN_MAX_FAILURES`` failures for one username from one address, further
    attempts are refused (error code ``THROTTLED``) without checking the password.
    """

    def clean(self):
        username = self.data.get("username", "")
        ip = throttle.client_ip(self.request)
        if throttle.login_is_throttled(username=username, ip=ip):
            raise forms.ValidationError(throttle.throttled_message(), code=THROTTLED)
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.login_failed(username=username, ip=ip)
            raise
        throttle.login_succeeded(username=username, ip=ip)
        return cleaned
