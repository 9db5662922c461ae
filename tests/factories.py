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
