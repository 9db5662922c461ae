from kstack_naguan.api.routers import OptionalSlashRouter

from . import views

router = OptionalSlashRouter()
router.register("logs/requests", views.RequestLogViewSet, basename="requestlog")
router.register("logs/events", views.EventLogViewSet, basename="eventlog")
router.register("logs/tasks", views.TaskLogViewSet, basename="tasklog")

urlpatterns = router.urls
