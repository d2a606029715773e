"""django.contrib.admin's app config, with the two-factor admin site (electnepal/admin_site.py) as ``admin.site``.

Its own module: INSTALLED_APPS imports it before any model exists.
"""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """django.contrib.admin with StaffAdminSite as ``admin.site``."""

    default_site = "electnepal.admin_site.StaffAdminSite"
