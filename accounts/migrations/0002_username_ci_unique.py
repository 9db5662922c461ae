"""Make usernames unique whatever their case, as e-mail addresses already are.

A database that already holds usernames differing only in case cannot take the constraint; the
migration stops first, naming them, so an operator renames or merges those accounts (no account
is renamed behind its owner's back).
"""

import django.db.models.functions.text
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower

import accounts.models


def refuse_case_variant_usernames(apps, schema_editor):
    user_model = apps.get_model("accounts", "User")
    clashes = (
        user_model._default_manager.using(schema_editor.connection.alias)
        .annotate(folded=Lower("username"))
        .values("folded")
        .annotate(count=Count("id"))
        .filter(count__gt=1)
        .values_list("folded", flat=True)
    )
    clashes = sorted(clashes)
    if clashes:
        raise RuntimeError(
            "usernames that differ only in case must be renamed before this migration: "
            + ", ".join(clashes[:50])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.UserManager()),
            ],
        ),
        migrations.RunPython(refuse_case_variant_usernames, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
        ),
    ]
