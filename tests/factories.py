import factory
from django.contrib.auth import get_user_model

from platforms.models import CloudPlatform, PlatformType

DEFAULT_PASSWORD = "Correct-Horse-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class PlatformTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlatformType
        django_get_or_create = ["name"]

    name = "vCenter"


class CloudPlatformFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CloudPlatform

    name = factory.Sequence(lambda n: f"vc{n}")
    platform_type = factory.SubFactory(PlatformTypeFactory)
    host = "127.0.0.1"
    port = 443
    username = "administrator@vsphere.local"
    password = "secret"
    protocol = "https"
    verify_tls = True

    @classmethod
    def for_simulator(cls, sim, **kwargs):
        """A platform pointing at a running `Simulator`."""
        return cls(
            host=sim.host,
            port=sim.port,
            username=sim.username,
            password=sim.password,
            protocol=sim.protocol,
            verify_tls=False,
            **kwargs,
        )


class MenuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "rbac.Menu"

    name = factory.Sequence(lambda n: f"TestMenu{n}")
    path = factory.LazyAttribute(lambda o: f"/test/{o.name.lower()}")
    title = factory.Sequence(lambda n: f"测试菜单{n}")
    sort = factory.Sequence(lambda n: n)


class RoleFactory(factory.django.DjangoModelFactory):
    """A role; `permissions=["app.codename", ...]` and `menus=[...]` set what it grants."""

    class Meta:
        model = "rbac.Role"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"role{n}")
    description = factory.LazyAttribute(lambda o: f"{o.name} for tests")

    @factory.post_generation
    def permissions(self, create, extracted, **kwargs):
        if create and extracted:
            from rbac.services import resolve_permissions

            self.permissions.set(resolve_permissions(extracted))

    @factory.post_generation
    def menus(self, create, extracted, **kwargs):
        if create and extracted:
            self.menus.set(extracted)


def user_with_permissions(*permissions, **kwargs):
    """A user holding exactly `permissions` ("app.codename") through a role of their own."""
    user = UserFactory(**kwargs)
    if permissions:
        user.groups.add(RoleFactory(permissions=list(permissions)))
    return user


def builtin_role(builtin):
    """The built-in role `builtin` ("administrator" or "user") with its grants, put back first
    if an earlier test's flush removed it, so no test depends on the order tests run in."""
    from rbac.builtin import restore_builtin_roles

    return restore_builtin_roles()[builtin]


def user_with_builtin_role(builtin, **kwargs):
    """A user (not staff, not superuser) holding the built-in role `builtin` ("administrator"
    or "user") that the rbac migration creates."""
    user = UserFactory(**kwargs)
    user.groups.add(builtin_role(builtin))
    return user
