from django.contrib.auth import views as auth_views
from django.urls import path

from . import account_views, views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("verify-email/<uuid:token>/", views.verify_email, name="verify-email"),
    path("resend-verification/", views.resend_verification, name="resend-verification"),
    path("forgot-password/", views.forgot_password, name="forgot-password"),
    path("reset-password/<uuid:token>/", views.reset_password, name="reset-password"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", account_views.account, name="account"),
    path("password-change/", account_views.password_change, name="password-change"),
    path("email-change/", account_views.email_change, name="email-change"),
    path("email-change/<uuid:token>/", account_views.email_change_confirm, name="email-change-confirm"),
    path("delete-account/", account_views.delete_account, name="delete-account"),
]
