import json

import pytest
from django.core.management import CommandError, call_command

from tests.factories import CloudPlatformFactory
from vcenter import services
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.django_db


def test_vcenter_sync_command_syncs_named_platform_and_prints_json(platform, vcsim, capsys):
    call_command("vcenter_sync", platform.name, "--json")
    [result] = json.loads(capsys.readouterr().out)
    assert result["status"] == "success"
    assert result["code"] == 2400
    assert VirtualMachine.objects.filter(platform=platform).count() == vcsim.expected_vm_count


def test_vcenter_sync_command_fails_for_unknown_platform(db):
    with pytest.raises(CommandError, match="no platform"):
        call_command("vcenter_sync", "nope")


def test_vcenter_sync_command_reports_a_sync_already_running(platform, monkeypatch):
    def busy(platform, user=None):
        raise services.SyncRunning(platform)

    monkeypatch.setattr(services, "start_sync", busy)
    with pytest.raises(CommandError, match="failed"):
        call_command("vcenter_sync", platform.name)


def test_vcenter_sync_command_fails_when_vcenter_refuses(db, vcsim):
    platform = CloudPlatformFactory.for_simulator(vcsim, name="bad")
    platform.password = "wrong"
    platform.save()
    with pytest.raises(CommandError):
        call_command("vcenter_sync", "bad")
