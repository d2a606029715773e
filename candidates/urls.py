from django.urls import path

from . import views

app_name = "candidates"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("register/<int:step>/", views.register_step, name="register-step"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("<int:pk>/", views.profile, name="profile"),
    path("<int:pk>/photo.jpg", views.photo, name="photo"),
]
