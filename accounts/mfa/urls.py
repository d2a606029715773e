"""/auth/two-factor/: set up, verify and turn off the second factor of staff (accounts.mfa.views)."""

from django.urls import path

from . import views

app_name = "two_factor"

urlpatterns = [
    path("setup/", views.setup, name="setup"),
    path("verify/", views.verify, name="verify"),
    path("disable/", views.disable, name="disable"),
]
