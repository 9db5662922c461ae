from django.urls import path

from kstack_naguan.api.routers import OptionalSlashRouter

from . import views

router = OptionalSlashRouter()
router.register("vms", views.VirtualMachineViewSet, basename="virtualmachine")

urlpatterns = [
    path("sync", views.SyncView.as_view(), name="vcenter-sync"),
    path("tree", views.TreeView.as_view(), name="vcenter-tree"),
    *router.urls,
]
