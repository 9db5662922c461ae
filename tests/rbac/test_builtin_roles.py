"""The built-in roles and the menu tree that the rbac data migration seeds."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal

from rbac.builtin import ORDINARY_USER_VIEW_APPS, PORTAL_APPS
from rbac.models import Menu, Role
from tests.factories import user_with_builtin_role

pytestmark = pytest.mark.django_db

VCENTER_ACTIONS = [
    "power_virtualmachine",
    "clone_virtualmachine",
    "migrate_virtualmachine",
    "customize_virtualmachine",
    "snapshot_virtualmachine",
    "disk_virtualmachine",
    "network_virtualmachine",
    "sync_inventory",
]


def codenames(role):
    return {f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.all()}


def test_administrator_role_holds_every_permission_of_the_portal():
    role = Role.objects.get(builtin="administrator")
    portal = Permission.objects.filter(content_type__app_label__in=PORTAL_APPS)
    assert codenames(role) == {f"{p.content_type.app_label}.{p.codename}" for p in portal}
    assert {f"vcenter.{c}" for c in VCENTER_ACTIONS} <= codenames(role)
    assert "rbac.assign_role" in codenames(role)


def test_ordinary_user_role_only_reads():
    perms = codenames(Role.objects.get(builtin="user"))
    assert "vcenter.view_virtualmachine" in perms
    assert "systemconfig.view_systemconfig" in perms
    for name in perms:
        app_label, codename = name.split(".")
        assert app_label in ORDINARY_USER_VIEW_APPS
        assert codename.startswith("view_")
    assert not perms & {"accounts.view_user", "rbac.view_role", "platforms.view_cloudplatform"}


def test_builtin_roles_come_back_after_a_flush_and_migrate():
    Role.objects.filter(builtin="user").delete()
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    role = Role.objects.get(builtin="user")
    assert "vcenter.view_virtualmachine" in codenames(role)


@pytest.mark.parametrize(
    ("builtin", "perm"),
    [("administrator", "vcenter.power_virtualmachine"), ("user", "vcenter.view_virtualmachine")],
)
def test_user_with_builtin_role_works_after_a_flush_without_post_migrate(builtin, perm):
    """The teardown of a serialized-rollback test flushes without `post_migrate`: no permission,
    content type or role row is left. A test running after it on the same worker still gets a
    built-in role with its grants (the flush runs inside this test's transaction and is rolled
    back with it)."""
    ContentType.objects.clear_cache()
    try:
        call_command("flush", interactive=False, inhibit_post_migrate=True, verbosity=0)
        assert not Role.objects.exists()
        assert not Permission.objects.exists()

        user = user_with_builtin_role(builtin, username="after-flush")
        assert user.has_perm(perm)
        assert user.groups.get().role.builtin == builtin
    finally:
        ContentType.objects.clear_cache()


def test_seeded_menu_tree_covers_the_portal_pages():
    roots = list(Menu.objects.filter(parent=None).values_list("name", flat=True))
    assert roots == ["Dashboard", "VCenter", "Platforms", "System", "Logs", "Profile"]
    vcenter = Menu.objects.get(name="VCenter")
    assert list(vcenter.children.values_list("name", flat=True))[:2] == [
        "VirtualMachineList",
        "VirtualMachineDetail",
    ]
    assert Menu.objects.get(name="VirtualMachineDetail").is_hide is True
    admin_menus = set(Role.objects.get(builtin="administrator").menus.values_list("pk", flat=True))
    assert admin_menus == set(Menu.objects.values_list("pk", flat=True))
