"""IP assignment through guest customization: addresses checked with `ipaddress` first."""

import ipaddress
import logging
import re

from audit.services import TaskFailed, enqueue, record_event
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError

from ..client import VCenterError, VCenterFault, VCenterNotFound, client_for_platform
from ..client import vms as vc
from .common import (
    POWERED_ON,
    invalid,
    live_state,
    refresh_mirror,
    refused,
    task_failure,
    task_platform,
    vcenter_errors,
    wait,
)

logger = logging.getLogger(__name__)


_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _ip_errors(data):
    """Check addresses with `ipaddress`; return (plan fields, {field: [problems]})."""
    errors = {}
    plan = {}
    try:
        address = ipaddress.IPv4Address(str(data.get("ip") or "").strip())
    except ValueError:
        errors["ip"] = ["Not an IPv4 address."]
        address = None
    raw_mask = str(data.get("netmask") or "").strip()
    try:
        network = ipaddress.IPv4Network(f"0.0.0.0/{raw_mask}")
        if not raw_mask:
            raise ValueError(raw_mask)
    except ValueError:
        errors["netmask"] = ["Not a netmask (e.g. 255.255.255.0 or 24)."]
        network = None
    if address is not None and network is not None:
        subnet = ipaddress.IPv4Network(f"{address}/{network.prefixlen}", strict=False)
        if network.prefixlen < 31 and address in (subnet.network_address, subnet.broadcast_address):
            errors["ip"] = [f"{address} is the network or broadcast address of {subnet}."]
        if address.is_loopback or address.is_multicast or address.is_unspecified:
            errors["ip"] = [f"{address} cannot be assigned to a NIC."]
        plan.update(ip=str(address), netmask=str(network.netmask))
        gateway = str(data.get("gateway") or "").strip()
        if gateway:
            try:
                gateway_address = ipaddress.IPv4Address(gateway)
                if gateway_address not in subnet or gateway_address == address:
                    errors["gateway"] = [f"The gateway must be another address in {subnet}."]
                plan["gateway"] = str(gateway_address)
            except ValueError:
                errors["gateway"] = ["Not an IPv4 address."]
    dns = []
    for server in data.get("dns") or []:
        try:
            dns.append(str(ipaddress.ip_address(str(server).strip())))
        except ValueError:
            errors.setdefault("dns", []).append(f"{server!r} is not an IP address.")
    plan["dns"] = dns
    return plan, errors


def plan_ip(user, vm, data):
    """Validate an IP assignment for one NIC of `vm` and queue it (202; TaskLog ends 2070).

    Addresses are checked with `ipaddress` (2073 with the field named), a powered-on VM is
    refused (2071) before vCenter is asked; the identity is Sysprep for Windows guests and
    LinuxPrep otherwise. vCenter applies the settings at the VM's next power-on.
    """
    code = codes.VM_IP_FAILED
    plan, errors = _ip_errors(data)
    hostname = str(data.get("hostname") or "").strip()
    if not _HOSTNAME_LABEL.match(hostname):
        errors["hostname"] = ["1-63 letters, digits or hyphens, not starting or ending with -."]
    domain = str(data.get("domain") or "").strip()
    if domain and not all(_HOSTNAME_LABEL.match(label) for label in domain.split(".")):
        errors["domain"] = ["Not a DNS domain name."]
    if errors:
        raise ApiError(code, data={"errors": errors})

    client, state = live_state(vm, code)
    family = "windows" if state["guest_id"].lower().startswith("win") else "linux"
    if family == "windows" and len(hostname) > 15:
        raise invalid(code, "hostname", "A Windows computer name has at most 15 characters.")
    if state["power_state"] == POWERED_ON:
        raise refused(
            codes.VM_IP_POWERED_ON,
            "Guest customization needs the VM powered off; the settings apply at next power-on.",
        )
    with vcenter_errors(code):
        nics = client.call(vc.read_nics, vm.moid)
    nic = data.get("nic") or 0
    if not nics:
        raise refused(code, "The VM has no network adapter.")
    if nic >= len(nics):
        raise invalid(code, "nic", f"The VM has {len(nics)} network adapter(s): 0-{len(nics) - 1}.")

    plan.update(hostname=hostname, domain=domain, nic=nic, family=family)
    from .. import vm_tasks

    return enqueue(
        vm_tasks.assign_ip,
        name="vcenter.ip",
        user=user,
        obj=vm,
        kwargs={"platform_id": vm.platform_id, "moid": vm.moid, "plan": plan},
    )


def run_customize(run, platform_id, moid, plan):
    """Carry out an IP plan inside the task: 2072 for a vCenter fault, 2073 for anything else."""
    platform = task_platform(platform_id, codes.VM_IP_FAILED)
    client = client_for_platform(platform)
    try:
        if client.call(vc.read_state, moid)["power_state"] == POWERED_ON:
            raise TaskFailed(codes.VM_IP_POWERED_ON, "The VM was powered on in the meantime.")
        task_moid = client.call(vc.start_customize, moid, plan)
        run.progress(0, task_moid)
        wait(client, task_moid, run.progress)
    except VCenterNotFound as exc:
        raise task_failure(codes.VM_IP_FAILED, exc) from exc
    except VCenterFault as exc:
        raise task_failure(codes.VM_IP_VMODL_ERROR, exc) from exc
    except VCenterError as exc:
        raise task_failure(codes.VM_IP_FAILED, exc) from exc

    vm = refresh_mirror(platform, moid)
    settings = {k: plan.get(k) for k in ("ip", "netmask", "gateway", "dns", "hostname", "nic")}
    if vm is not None:
        record_event(run.task_log.user, "customize", vm, after=settings)
    logger.info(
        "VM %s on %s customized (%s on NIC %s)", moid, platform.name, plan["ip"], plan["nic"]
    )
    return {
        "id": vm.pk if vm else None,
        "moid": moid,
        "vcenter_task": task_moid,
        "family": plan["family"],
        "applied_at": "next power-on",
        **settings,
    }
