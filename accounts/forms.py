"""Forms for the account pages."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from accounts.models import ApiToken


class SignUpForm(UserCreationForm):
    """Username, email and password (checked by AUTH_PASSWORD_VALIDATORS)."""

    email = forms.EmailField(
        max_length=254,
        help_text="Used only to tell you about your account.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email address already exists.")
        return email


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
