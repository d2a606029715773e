"""The account forms echo what was typed escaped: no markup from a field reaches a page.

Bad input (line breaks in names, oversize, not UUIDs) is in test_bad_input.py.
"""

import pytest
from django.test import Client

PAGE_PAYLOAD = '"><script>alert(1)</script>'


def test_signup_echoes_user_input_escaped(db):
    response = Client().post(
        "/auth/signup/",
        {
            "username": PAGE_PAYLOAD,
            "email": PAGE_PAYLOAD,
            "first_name": PAGE_PAYLOAD,
            "last_name": PAGE_PAYLOAD,
            "password1": PAGE_PAYLOAD,
            "password2": "other",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(("path", "field"), [("/auth/login/", "username"), ("/auth/forgot-password/", "email")])
def test_forms_echo_user_input_escaped(db, path, field):
    response = Client().post(path, {field: PAGE_PAYLOAD, "password": "x"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
