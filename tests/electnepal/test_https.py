"""HTTPS behind a proxy: the redirect and HSTS; X-Forwarded-Proto believed only when configured."""

from django.test import Client


def test_https_redirect_and_hsts(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    plain = Client().get("/auth/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/auth/login/"
    # A client saying "https" in X-Forwarded-Proto is not believed without the setting...
    assert Client(HTTP_X_FORWARDED_PROTO="https").get("/auth/login/").status_code == 301
    secure = Client().get("/auth/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # ... and is with it (the proxy sets the header and strips the client's).
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert Client(HTTP_X_FORWARDED_PROTO="https").get("/auth/login/").status_code == 200
