"""Account pages: sign up, sign in/out, password change, API tokens, delete account."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services, throttle
from accounts.forms import (
    THROTTLED,
    DeleteAccountForm,
    LoginForm,
    SignUpForm,
    StudioPasswordChangeForm,
    TokenCreateForm,
)
from accounts.models import ApiToken
from vbgsite.errors import AppError
from vbgsite.responses import error_status, not_found_as_404


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
            messages.success(request, f"Welcome, {user.get_username()}! Your account is ready.")
            return redirect(settings.LOGIN_REDIRECT_URL)
        return render(request, "registration/signup.html", {"form": form}, status=400)
    return render(request, "registration/signup.html", {"form": form})


class ThrottledLoginView(auth_views.LoginView):
    """Django's LoginView, refusing further attempts after repeated failures."""

    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        ip = throttle.client_ip(request)
        if throttle.login_is_throttled(username=username, ip=ip):
            form = self.get_form()
            form.errors.clear()
            message = throttle.throttled_message(reset_hint=True)
            context = self.get_context_data(form=form, throttled_message=message)
            return self.render_to_response(context, status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            throttle.login_succeeded(username=username, ip=ip)
        else:
            throttle.login_failed(username=username, ip=ip)
            response.status_code = 400
        return response


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's sign-in page (throttled by its form, see ``accounts/admin.py``),
    answering a refused attempt with 429 as the site's sign-in page does."""
    response = admin.site.login(request)
    form = (getattr(response, "context_data", None) or {}).get("form")
    if form is not None and form.has_error(NON_FIELD_ERRORS, code=THROTTLED):
        response.status_code = 429
    return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    form_class = StudioPasswordChangeForm
    success_url = reverse_lazy("accounts:password_change")

    def form_valid(self, form):
        revoked = services.password_change(
            user=form.user, new_password=form.cleaned_data["new_password1"]
        )
        update_session_auth_hash(self.request, form.user)  # keeps this session signed in
        message = "Your password has been changed."
        if revoked:
            message += (
                f" Your {revoked} API token{pluralize(revoked)} {pluralize(revoked, 'was,were')}"
                " revoked: programs using them must be given a new token."
            )
        messages.success(self.request, message)
        return redirect(self.get_success_url())

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """The person's account: who they are and the ways to change or end it."""
    tokens = ApiToken.objects.filter(owner=request.user).count()
    return render(request, "accounts/account.html", {"token_count": tokens})


DELETE_SCOPE = "delete-account"


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    """Asks for the password; wrong ones are throttled like sign-in attempts (per account,
    from any address), so a left-open session cannot be used to guess it."""
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "GET":
        return render(request, "accounts/delete.html", {"form": form})
    name, ip = str(request.user.pk), "any"
    if throttle.is_throttled(scope=DELETE_SCOPE, name=name, ip=ip):
        message = (
            "Too many wrong passwords. Please wait "
            f"{throttle.wait_minutes()} minutes and try again."
        )
        context = {"form": DeleteAccountForm(user=request.user), "throttled_message": message}
        return render(request, "accounts/delete.html", context, status=429)
    if not form.is_valid():
        throttle.record(scope=DELETE_SCOPE, name=name, ip=ip)
        return render(request, "accounts/delete.html", {"form": form}, status=400)
    throttle.clear(scope=DELETE_SCOPE, name=name, ip=ip)
    try:
        services.account_delete(user=request.user)
    except AppError as error:  # storage down: nothing changed, still signed in (hole 9)
        messages.error(request, error.message)
        return render(request, "accounts/delete.html", {"form": form}, status=error_status(error))
    logout(request)  # only once the account is gone
    messages.success(request, "Your account and all your files have been deleted.")
    return redirect("accounts:signup")


def _tokens_page(request: HttpRequest, form: TokenCreateForm, *, status: int = 200, **extra):
    tokens = ApiToken.objects.filter(owner=request.user)
    context = {"form": form, "tokens": tokens, "max_tokens": services.MAX_TOKENS_PER_USER}
    context.update(extra)
    return render(request, "accounts/tokens.html", context, status=status)


NEW_TOKEN_SESSION_KEY = "accounts:new-token"  # noqa: S105 (a session key name)


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """GET: the tokens, and a just-created key once. POST: create one, then redirect (so a
    refresh does not create a second token); the key waits in the session for that one
    GET, which removes it."""
    if request.method == "GET":
        created = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
        token = None
        if created:
            token = ApiToken.objects.filter(owner=request.user, pk=created["id"]).first()
        extra = {"new_token": token, "new_key": created["key"]} if token else {}
        return _tokens_page(request, TokenCreateForm(), **extra)
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form, status=400)
    try:
        token, key = services.token_create(user=request.user, name=form.cleaned_data["name"])
    except AppError as error:
        messages.error(request, error.message)
        return _tokens_page(request, form, status=error_status(error))
    request.session[NEW_TOKEN_SESSION_KEY] = {"id": token.pk, "key": key}
    return redirect("accounts:tokens")


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    with not_found_as_404():
        services.token_revoke(user=request.user, token_id=token_id)
    messages.success(request, "The token has been revoked; programs using it are signed out.")
    return redirect("accounts:tokens")
