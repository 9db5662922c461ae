"""Fixtures for the admin tests: staff users per role, a signed-in client, a synced simulator."""

import pytest
from django.test import Client
from pyVmomi import vim

from tests.factories import user_with_builtin_role, user_with_permissions
from vcenter.models import VirtualMachine

VIEW_VM = "vcenter.view_virtualmachine"


def admin_client(user):
    """A Django test client signed in to the admin as `user`, reading it in English."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def staff_with(*permissions):
    """A staff user holding exactly `permissions` through a role of their own."""
    return user_with_permissions(*permissions, is_staff=True)


@pytest.fixture
def administrator(db):
    """Staff with the built-in administrator role (every permission of the portal)."""
    return user_with_builtin_role("administrator", is_staff=True)


@pytest.fixture
def viewer(db):
    """Staff with the built-in ordinary-user role: may look at VMs, may not act on them."""
    return user_with_builtin_role("user", is_staff=True)


@pytest.fixture
def vm(fresh_synced):
    """DC0_H0_VM0 of the test's own simulator, powered on, on the standalone host DC0_H0."""
    return VirtualMachine.objects.get(platform=fresh_synced, name="DC0_H0_VM0")


def vsphere_vm(content, moid):
    """The VM as vCenter has it, read through pyVmomi."""
    return vim.VirtualMachine(moid, content.propertyCollector._stub)


def vsphere_vm_names(content):
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return {vm.name for vm in view.view}
    finally:
        view.Destroy()
