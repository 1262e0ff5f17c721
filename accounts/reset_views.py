"""Password reset by email (Django's views): ask for the email, follow the link, choose a
new password. Setting it revokes the person's API tokens, as a password change does
(``accounts.services.password_change``), and lifts the sign-in lockout from this address.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect
from django.template.defaultfilters import pluralize
from django.urls import reverse_lazy

from accounts import services, throttle
from accounts.forms import StudioSetPasswordForm

RESET_SCOPE = "password-reset"


class PasswordResetView(auth_views.PasswordResetView):
    """Sends the reset link to every account with that email (two may share one); says
    the same whether or not there is one. Emails per address and client address are
    limited like sign-in attempts, so the form cannot flood someone's inbox."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        email, ip = form.cleaned_data["email"], throttle.client_ip(self.request)
        if throttle.is_throttled(scope=RESET_SCOPE, name=email, ip=ip):
            form.add_error(
                None,
                "Several reset emails were already sent to this address. Check your inbox "
                f"(and spam folder), or wait {throttle.wait_minutes()} minutes and ask again.",
            )
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        throttle.record(scope=RESET_SCOPE, name=email, ip=ip)
        return super().form_valid(form)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["reset_hours"] = _duration(settings.PASSWORD_RESET_TIMEOUT)
        return context


def _duration(seconds: int) -> str:
    """``7200`` -> ``"2 hours"``, ``1800`` -> ``"30 minutes"``."""
    if seconds >= 3600:
        hours = round(seconds / 3600)
        return f"{hours} hour{pluralize(hours)}"
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{pluralize(minutes)}"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    form_class = StudioSetPasswordForm
    success_url = reverse_lazy("accounts:login")

    def form_valid(self, form):
        user = form.user
        revoked = services.password_change(
            user=user, new_password=form.cleaned_data["new_password1"]
        )
        throttle.login_succeeded(username=user.get_username(), ip=throttle.client_ip(self.request))
        message = "Your password has been reset. Sign in with the new one."
        if revoked:
            message += (
                f" Your {revoked} API token{pluralize(revoked)} {pluralize(revoked, 'was,were')}"
                " revoked: programs using them must be given a new token."
            )
        messages.success(self.request, message)
        # As Django's form_valid (which would set the password a second time): forget the
        # link's token kept in the session, so the link cannot be used twice.
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response
