"""Two-factor for staff (django-otp): TOTP devices, recovery codes, and their emails.

The admin (electnepal/admin_site.py) sends staff here until their session has
passed the second factor: ``setup`` (no device yet: scan, confirm, see the recovery
codes once), ``verify`` (a code from the app or a recovery code), ``disable``.
"""
