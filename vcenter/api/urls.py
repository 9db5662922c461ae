"""vCenter routes: the VM lifecycle (`views`), a VM's disks, network adapters and snapshots
(`device_views`), and inventory reads and sync (`inventory_views`)."""

from django.urls import re_path

from kstack_naguan.api.routers import OptionalSlashRouter

from . import device_views, inventory_views, views

router = OptionalSlashRouter()
router.register("vms", views.VirtualMachineViewSet, basename="virtualmachine")
router.register("datastores", inventory_views.DatastoreViewSet, basename="datastore")
router.register("images", inventory_views.IsoImageViewSet, basename="isoimage")
router.register("port-groups", inventory_views.PortGroupViewSet, basename="network")
router.register("resource-pools", inventory_views.ResourcePoolViewSet, basename="resourcepool")

urlpatterns = [
    re_path(r"^sync/?$", inventory_views.SyncView.as_view(), name="vcenter-sync"),
    re_path(r"^tree/?$", inventory_views.TreeView.as_view(), name="vcenter-tree"),
    *device_views.routes,
    *router.urls,
]
