"""The API benchmark's baseline: the VM list as a plain Django view, the floor for DRF.

It answers `GET /api/bench/plain-vms?page_size=N` with the same rows, fields and order as
`GET /api/vcenter/vms?page_size=N`, read the way that list reads them (`vm_values`, `vm_rows`)
and serialised by `JsonResponse`. It has no authentication, permissions, filters, pagination
class or envelope: what is left between the two is what the framework around the list costs.
"""

from django.http import JsonResponse

from vcenter.api.serializers import vm_rows, vm_values
from vcenter.models import VirtualMachine

MAX_PAGE_SIZE = 200


def plain_vm_list(request):
    """The first page of VMs ordered by name, as plain JSON."""
    try:
        page_size = max(1, min(int(request.GET.get("page_size", 20)), MAX_PAGE_SIZE))
    except ValueError:
        page_size = 20
    vms = VirtualMachine.objects.order_by("name", "id")
    rows = vm_rows(list(vm_values(vms)[:page_size]))
    return JsonResponse({"count": vms.count(), "page": 1, "page_size": page_size, "results": rows})
