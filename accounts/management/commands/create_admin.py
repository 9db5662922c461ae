"""`manage.py create_admin --username NAME [--email E] [--password-from-env VAR] [--update]
[--json]`: create (or update) a portal administrator for a script or an operator.

The administrator is an active superuser with staff status and the built-in administrator role,
so both the admin and the SPA's menus open for them. The password comes from an environment
variable (never from the command line, where `ps` and shell history would keep it); without one
a password is generated and printed once. Django's password validators apply, and the change is
written to the event log.
"""

import json
import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.services import summary
from audit.services import record_event
from rbac.models import Role


class Command(BaseCommand):
    help = "Create a portal administrator (superuser with the built-in administrator role)."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", default="", help="required when creating a user")
        parser.add_argument(
            "--password-from-env",
            metavar="VARIABLE",
            help="read the password from this environment variable; generated if not given",
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="if the user exists, make them an administrator (and set the password if given)",
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the result as JSON"
        )

    def handle(self, *args, username, email, password_from_env, update, as_json, **options):
        password, generated = self._password(password_from_env)
        user_model = get_user_model()
        user = user_model.objects.filter(username__iexact=username).first()  # as sign-in does
        if user is not None and not update:
            raise CommandError(f"user {username!r} already exists; use --update to change it")
        created = user is None
        if created and not email:
            raise CommandError("--email is required to create a user")
        if not created and not password_from_env:
            password, generated = None, False  # --update keeps the password unless given one

        # Build the user, then check it as the model and the password validators would.
        before = None if created else summary(user)
        user = user or user_model(username=username)
        if email:
            user.email = email
        user.is_active = user.is_staff = user.is_superuser = True
        try:
            user.full_clean(exclude=["password", "last_login", "date_joined"])
            if password is not None:
                validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("; ".join(_messages(exc))) from None
        if password is not None:
            user.set_password(password)

        # Save, grant the administrator role and leave a trace, all or nothing.
        with transaction.atomic():
            user.save()
            role = Role.objects.filter(builtin="administrator").first()
            if role is not None:
                user.groups.add(role)
            record_event(
                None,
                "create" if created else "update",
                user,
                before=before,
                after=summary(user),
                message="administrator set up by manage.py create_admin",
            )

        result = {
            "id": user.pk,
            "username": user.username,
            "email": user.email,
            "created": created,
            "roles": sorted(user.groups.values_list("name", flat=True)),
        }
        if generated:
            result["password"] = password
        if as_json:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        verb = "created" if created else "updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} administrator {user.username}"))
        if generated:
            self.stdout.write(f"password (shown once): {password}")

    @staticmethod
    def _password(variable):
        """The password from `variable`, or a generated one; `(password, generated)`."""
        if not variable:
            return secrets.token_urlsafe(18), True
        value = os.environ.get(variable)
        if not value:
            raise CommandError(f"environment variable {variable} is not set or empty")
        return value, False


def _messages(exc):
    if hasattr(exc, "message_dict"):
        return [
            " ".join(msgs) if field == NON_FIELD_ERRORS else f"{field}: {' '.join(msgs)}"
            for field, msgs in exc.message_dict.items()
        ]
    return list(exc.messages)
