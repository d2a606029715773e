"""``/mailer/preview/``: staff see every kind of email in every language, rendered from its samples.

Guarded as every admin page is (``admin.site.admin_view``): staff only, and only
after the second factor when the site requires one (the project's admin site does).
"""

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from ..models import template_kind
from . import samples

# The email's HTML is shown in a sandboxed iframe from its own URL, with a policy of
# its own: no scripts, nothing fetched, only the inline styles an email is made of.
EMAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def admin_page(view):
    """``view`` behind the default admin site's own guard (login, staff, second factor)."""
    return admin.site.admin_view(view)


def _rendered(template: str, language: str):
    if template not in samples.kinds() or language not in samples.languages_of(template):
        raise Http404("No such email.")
    return samples.render_sample(template, language)


@require_GET
@admin_page
def preview_index(request):
    """Every kind of email, with the languages it is written in."""
    rows = [{"template": t, "kind": template_kind(t), "languages": samples.languages_of(t)} for t in samples.kinds()]
    return render(request, "mailer/preview_index.html", {"rows": rows, "title": "Email previews"})


@require_GET
@admin_page
def preview_detail(request, template: str, language: str):
    """One kind in one language: subject, text and the HTML in a sandboxed frame; 404 for an unknown one."""
    email = _rendered(template, language)
    return render(
        request,
        "mailer/preview_detail.html",
        {
            "email": email,
            "template": template,
            "language": language,
            "title": f"{template} ({language})",
            "languages": samples.languages_of(template),
        },
    )


@require_GET
@admin_page
@xframe_options_sameorigin
def preview_html(request, template: str, language: str):
    """The HTML part alone, for the frame, under EMAIL_CSP."""
    response = HttpResponse(_rendered(template, language).html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = EMAIL_CSP
    return response
