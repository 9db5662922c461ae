from kstack_naguan.api.routers import OptionalSlashRouter

from . import views

router = OptionalSlashRouter()
router.register("platform-types", views.PlatformTypeViewSet, basename="platformtype")
router.register("platforms", views.CloudPlatformViewSet, basename="cloudplatform")

urlpatterns = router.urls
