"""Sign up: username, email and a password that passes Django's validators; signed in after."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db

URL = reverse("accounts:signup")
GOOD = "correct-Horse-battery-9"


def form(**overrides) -> dict:
    data = {
        "username": "newbie",
        "email": "newbie@example.com",
        "password1": GOOD,
        "password2": GOOD,
    }
    data.update(overrides)
    return data


def test_signup_page_renders(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert b"Create your account" in response.content


def test_signup_creates_the_account_and_signs_in(client):
    response = client.post(URL, form())
    assert response.status_code == 302
    assert response["Location"] == reverse("compositing:studio")
    user = get_user_model().objects.get(username="newbie")
    assert user.email == "newbie@example.com"
    assert user.check_password(GOOD)
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize(
    ("password", "phrase"),
    [
        ("short7", b"too short"),
        ("password123", b"too common"),
        ("83920174629", b"entirely numeric"),
        ("newbie12", b"too similar"),
    ],
)
def test_weak_passwords_are_refused_by_djangos_validators(client, password, phrase):
    response = client.post(URL, form(password1=password, password2=password))
    assert response.status_code == 400
    assert phrase in response.content
    assert not get_user_model().objects.filter(username="newbie").exists()
    assert "_auth_user_id" not in client.session


def test_mismatched_passwords_are_refused(client):
    response = client.post(URL, form(password2=GOOD + "x"))
    assert response.status_code == 400
    assert b"didn\xe2\x80\x99t match" in response.content or b"match" in response.content
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_email_is_required_and_must_be_valid(client):
    assert client.post(URL, form(email="")).status_code == 400
    assert client.post(URL, form(email="not-an-email")).status_code == 400
    assert not get_user_model().objects.exists()


def test_taken_username_is_refused(client, make_user):
    make_user("newbie")
    response = client.post(URL, form())
    assert response.status_code == 400
    assert b"already exists" in response.content


def test_a_registered_email_is_not_revealed(client, make_user):
    # Issue 13: sign-up answers the same whether the address has an account or not
    # (tests/security/test_signup_enumeration.py compares the two answers).
    make_user("someone", email="taken@example.com")
    response = client.post(URL, form(username="fresh", email="TAKEN@example.com"))
    assert response.status_code == 302
    assert b"already exists" not in response.content


def test_signed_in_people_are_sent_to_the_studio(client_logged_in):
    response = client_logged_in.get(URL)
    assert response.status_code == 302
    assert response["Location"] == reverse("compositing:studio")


def test_a_weak_password_is_reported_under_the_password_field(client):
    """Issue 14, defect 11: "too common" appeared under the confirmation field."""
    response = client.post(URL, form(password1="password123", password2="password123"))
    errors = response.context["form"].errors
    assert "too common" in " ".join(errors["password1"])
    assert "password2" not in errors
    html = response.content.decode()
    assert html.index("too common") < html.index('name="password2"')
