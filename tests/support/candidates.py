"""Shared steps of the candidate tests: users, the wizard's valid answers, a tiny real image."""

import io
from datetime import date

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from accounts.models import User

PASSWORD = "pokhara-lakeside-2082"


def make_user(username="hari", *, verified=True, staff=False, language="en", is_active=True, **extra) -> User:
    user = User.objects.create_user(
        username,
        f"{username}@example.com",
        PASSWORD,
        is_active=is_active,
        is_staff=staff,
        preferred_language=language,
        email_verified_at=timezone.now() if verified else None,
        **extra,
    )
    return user


def logged_in(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def years_ago(years: int, *, days: int = 0) -> date:
    today = timezone.localdate()
    return (
        today.replace(year=today.year - years)
        if not days
        else date.fromordinal(today.replace(year=today.year - years).toordinal() + days)
    )


def png(size=(40, 40), *, name="photo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (220, 20, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def step1(**overrides) -> dict:
    return {
        "full_name_en": "Hari Bahadur Thapa",
        "full_name_ne": "हरि बहादुर थापा",
        "date_of_birth": years_ago(40).isoformat(),
        "phone": "9841234567",
        **overrides,
    }


def step2(**overrides) -> dict:
    return {"level": "federal", "province": "3", "district": "kathmandu", "constituency": "4", **overrides}


def step3(**overrides) -> dict:
    return {
        "party": "independent",
        "biography_en": "Teacher in Kirtipur for twenty years.",
        "biography_ne": "कीर्तिपुरमा बीस वर्ष शिक्षक।",
        "manifesto_en": "Clean water for every ward.",
        "manifesto_ne": "हरेक वडामा सफा खानेपानी।",
        "education": "M.Ed., Tribhuvan University",
        "experience": "Ward committee, 2017-2022",
        **overrides,
    }


STEP_DATA = {1: step1, 2: step2, 3: step3}


def step_url(step: int) -> str:
    return f"/candidates/register/{step}/"


def complete_wizard(client: Client, *, submit=True):
    """Post every step with valid data; return the last response."""
    for step, data in STEP_DATA.items():
        response = client.post(step_url(step), data())
        assert response.status_code == 302, (step, response.context and response.context["form"].errors)
    if submit:
        return client.post(step_url(4), {"declaration": "on"})
    return response
