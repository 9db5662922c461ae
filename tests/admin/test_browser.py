"""The admin in a real browser: Playwright drives Debian's chromium against a live server whose
VM list comes from a sync of the simulator. Screenshots go to $KSTACK_TEST_ARTIFACTS
(default: test-artifacts/ in the repository)."""

import os
from pathlib import Path

import pytest
from pyVmomi import vim

from audit.models import TaskLog
from kstack_naguan.api import codes
from tests.conftest import REPO_ROOT
from tests.factories import DEFAULT_PASSWORD, user_with_builtin_role
from vcenter import services
from vcenter.models import VirtualMachine

from .conftest import vsphere_vm

pytestmark = [pytest.mark.browser, pytest.mark.vcsim]

CHROMIUM = "/usr/bin/chromium"
# Playwright must not download a browser: it drives the system's chromium, offline and quiet.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    """One chromium for the whole session.

    Playwright's sync API keeps an event loop running in this thread, so Django would refuse
    the tests' own (synchronous) ORM calls and the database flush between tests as if they came
    from async code: DJANGO_ALLOW_ASYNC_UNSAFE is set while the browser lives.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (scripts/bootstrap.sh --browser)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh English-speaking context (own cookies) per call."""
    contexts = []

    def open_page():
        context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts():
    folder = Path(os.environ.get("KSTACK_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def synced_live(live_server, fresh_platform):
    """The test's simulator synced into the live server's database."""
    task_log = services.start_sync(fresh_platform)
    task_log.refresh_from_db()
    assert task_log.status == "success", task_log.error
    return fresh_platform


def log_in(page, live_server, user, next_path):
    page.goto(f"{live_server.url}/admin/login/?next={next_path}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}{next_path}")


def vm_row(page, name):
    return page.locator("#result_list tbody tr").filter(has_text=name)


def run_action(page, vm_name, action):
    vm_row(page, vm_name).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_load_state()


def test_operator_powers_off_a_vm_and_follows_a_sync_to_success(
    synced_live, live_server, new_page, artifacts, vsphere
):
    operator = user_with_builtin_role("administrator", is_staff=True, username="operator")
    vm = VirtualMachine.objects.get(platform=synced_live, name="DC0_H0_VM0")
    page = new_page()

    # The VM list, filled by the sync.
    log_in(page, live_server, operator, "/admin/vcenter/virtualmachine/")
    for name in VirtualMachine.objects.filter(platform=synced_live).values_list("name", flat=True):
        assert vm_row(page, name).count() == 1
    assert "powered on" in vm_row(page, "DC0_H0_VM0").inner_text()
    page.screenshot(path=artifacts / "admin-vm-list.png", full_page=True)

    # Power it off with the action; the outcome message names the code.
    run_action(page, "DC0_H0_VM0", "power_off")
    success = page.locator("ul.messagelist li.success")
    assert success.inner_text() == f"“DC0_H0_VM0”: VM powered off ({codes.VM_POWERED_OFF.number})"
    assert "powered off" in vm_row(page, "DC0_H0_VM0").inner_text()
    assert vsphere_vm(vsphere, vm.moid).runtime.powerState == "poweredOff"
    page.screenshot(path=artifacts / "admin-vm-powered-off.png", full_page=True)

    # Its page reads the disks and adapters live from vCenter through the API.
    vm_row(page, "DC0_H0_VM0").locator("th a").click()
    page.wait_for_url(f"**/admin/vcenter/virtualmachine/{vm.pk}/change/")
    disks = page.locator(".vm-devices [data-disks-url] table tbody tr")
    disks.first.wait_for()
    devices = vsphere_vm(vsphere, vm.moid).config.hardware.device
    assert disks.count() == len([d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)])
    assert page.locator(".vm-devices [data-nics-url] table tbody tr").count() >= 1
    page.screenshot(path=artifacts / "admin-vm-page.png", full_page=True)
    page.go_back()

    # Sync its platform: the message links to the TaskLog, which shows success.
    run_action(page, "DC0_H0_VM0", "sync_platform")
    task_log = TaskLog.objects.filter(name=services.SYNC_TASK_NAME).latest("id")
    link = page.locator(f'ul.messagelist a[href="/admin/audit/tasklog/{task_log.pk}/change/"]')
    assert f"success — Sync succeeded ({codes.SYNC_OK.number})" in link.inner_text()
    link.click()
    page.wait_for_url(f"**/admin/audit/tasklog/{task_log.pk}/change/")
    assert page.locator(".field-status_badge .tasklog-status").inner_text() == "success"
    assert page.locator(".field-progress_bar progress").get_attribute("value") == "100"
    page.screenshot(path=artifacts / "admin-tasklog-success.png", full_page=True)

    # Back on the list, the mirror still shows the VM off after the sync.
    page.goto(f"{live_server.url}/admin/vcenter/virtualmachine/")
    assert "powered off" in vm_row(page, "DC0_H0_VM0").inner_text()


def test_running_task_log_refreshes_in_place_until_it_ends(live_server, new_page, artifacts):
    operator = user_with_builtin_role("administrator", is_staff=True, username="watcher")
    task_log = TaskLog.objects.create(
        name="vcenter.clone", status="running", progress=30, object_repr="DC0_H0_VM0"
    )
    page = new_page()
    log_in(page, live_server, operator, f"/admin/audit/tasklog/{task_log.pk}/change/")
    status = page.locator(".field-status_badge .tasklog-status")
    assert status.inner_text() == "running"
    page.evaluate("window.__notReloaded = true")

    # The task ends in the database; the page follows through the TaskLog API, no reload.
    TaskLog.objects.filter(pk=task_log.pk).update(
        status="success", progress=100, code=codes.VM_CLONED.number, message="Clone succeeded"
    )
    page.wait_for_function(
        "document.querySelector('.field-status_badge .tasklog-status').dataset.status === 'success'"
    )
    assert status.inner_text() == "success"
    assert page.locator(".field-progress_bar progress").get_attribute("value") == "100"
    assert page.locator('[data-tasklog-field="code"]').inner_text() == str(codes.VM_CLONED.number)
    assert page.evaluate("window.__notReloaded") is True
    page.screenshot(path=artifacts / "admin-tasklog-refreshed.png", full_page=True)


def test_user_without_power_permission_gets_no_power_action(
    synced_live, live_server, new_page, artifacts
):
    viewer = user_with_builtin_role("user", is_staff=True, username="viewer")
    page = new_page()
    log_in(page, live_server, viewer, "/admin/vcenter/virtualmachine/")
    assert vm_row(page, "DC0_H0_VM0").count() == 1
    assert page.locator("select[name=action] option[value=power_off]").count() == 0
    assert page.locator("input.action-select").count() == 0
    page.screenshot(path=artifacts / "admin-vm-list-viewer.png", full_page=True)
