from kstack_naguan.api.routers import OptionalSlashRouter

from . import views

router = OptionalSlashRouter()
router.register("menus", views.MenuViewSet, basename="menu")
router.register("roles", views.RoleViewSet, basename="role")
router.register("user-roles", views.UserRoleViewSet, basename="user-role")

urlpatterns = router.urls
