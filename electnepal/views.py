from django.shortcuts import render


def ratelimited(request, exception):
    """django-ratelimit's handler: a readable page with HTTP 429."""
    return render(request, "429.html", status=429)
