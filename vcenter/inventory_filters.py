"""FilterSets of the inventory lists: datastores, ISO images, port groups and resource pools.

`platform`, `datacenter` and `host` name rows by id; an id that is not an integer or names
nothing is refused (the views answer with their bad-parameters code), rather than giving an
empty page that looks like a valid answer.
"""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from kstack_naguan.api.filters import IntegerFilter, ModelIdFilter
from platforms.models import CloudPlatform

from .models import (
    Cluster,
    Datacenter,
    Datastore,
    Host,
    IsoImage,
    Network,
    NetworkKindChoices,
    ResourcePool,
)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(ModelIdFilter):
    """A row named by its id; an id that names nothing is a validation error."""


def _by_id(model, field_name):
    return IdFilter(queryset=model.objects.all(), field_name=field_name)


class DatastoreFilterSet(django_filters.FilterSet):
    """Datastores by platform, datacenter, a host that mounts them, name, type, accessibility."""

    platform = _by_id(CloudPlatform, "platform")
    datacenter = _by_id(Datacenter, "datacenter")
    host = _by_id(Host, "hosts")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    accessible = django_filters.BooleanFilter()

    class Meta:
        model = Datastore
        fields = ["platform", "datacenter", "host", "name", "type", "accessible"]


class IsoImageFilterSet(django_filters.FilterSet):
    """ISO images by platform, datacenter, a host that sees their datastore, datastore, name."""

    platform = _by_id(CloudPlatform, "platform")
    datacenter = _by_id(Datacenter, "datastore__datacenter")
    host = _by_id(Host, "datastore__hosts")
    datastore = _by_id(Datastore, "datastore")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = IsoImage
        fields = ["platform", "datacenter", "host", "datastore", "name"]


class PortGroupFilterSet(django_filters.FilterSet):
    """Port groups by platform, datacenter, a host that carries them, kind, name and VLAN."""

    platform = _by_id(CloudPlatform, "platform")
    datacenter = _by_id(Datacenter, "datacenter")
    host = _by_id(Host, "hosts")
    kind = django_filters.ChoiceFilter(choices=NetworkKindChoices.choices)
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    vlan_id = IntegerFilter(min_value=0, max_value=4095)
    is_uplink = django_filters.BooleanFilter()

    class Meta:
        model = Network
        fields = ["platform", "datacenter", "host", "kind", "name", "vlan_id", "is_uplink"]


class ResourcePoolFilterSet(django_filters.FilterSet):
    """Root pools (one per cluster or standalone host) by platform, datacenter, cluster, host."""

    platform = _by_id(CloudPlatform, "platform")
    datacenter = _by_id(Datacenter, "datacenter")
    cluster = _by_id(Cluster, "cluster")
    host = IdFilter(queryset=Host.objects.all(), method="filter_host")

    class Meta:
        model = ResourcePool
        fields = ["platform", "datacenter", "cluster", "host"]

    def filter_host(self, queryset, name, host):
        """The pools of the host's cluster, or of the standalone host itself."""
        return queryset.filter(platform_id=host.platform_id, owner_moid=host.compute_resource_moid)
