"""What the emails say about a profile: one dict, JSON-safe and without secrets."""

from django.utils import timezone

from mailer import api as mail

from .models import Candidate


def candidate_card(candidate: Candidate, language: str) -> dict:
    """The profile's names (both scripts), seat, place and party named in ``language``, and its dates and links."""
    return {
        "full_name_en": candidate.full_name_en,
        "full_name_ne": candidate.full_name_ne,
        **candidate.names(language),
        "submitted_on": timezone.localdate(candidate.submitted_at).isoformat() if candidate.submitted_at else "",
        "dashboard_url": mail.site_url("candidates:dashboard"),
    }
