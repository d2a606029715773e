"""Authentication: one password hash per attempt, whatever the username.

Django's ModelBackend already hashes a password for an unknown username, so that a
known and an unknown username take the same time (Django ticket #20760). It then
returns None for an inactive account, and telling its owner "verify your address
first" would need a second hash, for known usernames only: a timing oracle for
which usernames exist. This backend returns the inactive account to the login form
instead, whose ``confirm_login_allowed`` refuses it with that message (Django's
AllowAllUsersModelBackend pattern). ``get_user`` stays ModelBackend's, so a
session of an inactive user never authenticates, whoever created it.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class AccountBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        """The user whose password this is, active or not; None otherwise.

        Usernames are unique case-insensitively (a database constraint on
        LOWER(username)), so the lookup is too, through the same expression.
        Exactly one password hash on every path.
        """
        User = get_user_model()
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = User._default_manager.with_username(username).first()
        if user is None:
            User().set_password(password)  # the hasher's work, as for a known username
            return None
        return user if user.check_password(password) else None
