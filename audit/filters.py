import django_filters

from kstack_naguan.api.filters import DateTimeFilter, IntegerFilter, IpAddressFilter

from .models import EventLog, RequestLog, TaskLog, TaskLogStatusChoices


class LogFilterSet(django_filters.FilterSet):
    """Filters every log shares: a time range and the user."""

    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")
    user = IntegerFilter(field_name="user_id")
    request_id = django_filters.CharFilter()


class RequestLogFilterSet(LogFilterSet):
    username = django_filters.CharFilter(lookup_expr="iexact")
    method = django_filters.CharFilter(lookup_expr="iexact")
    path = django_filters.CharFilter(lookup_expr="icontains")
    status = IntegerFilter()
    status_min = IntegerFilter(field_name="status", lookup_expr="gte")
    status_max = IntegerFilter(field_name="status", lookup_expr="lte")
    code = IntegerFilter()
    client_ip = IpAddressFilter()

    class Meta:
        model = RequestLog
        fields = [
            "created_after",
            "created_before",
            "user",
            "username",
            "method",
            "path",
            "status",
            "status_min",
            "status_max",
            "code",
            "client_ip",
            "request_id",
        ]


class EventLogFilterSet(LogFilterSet):
    username = django_filters.CharFilter(lookup_expr="iexact")
    action = django_filters.CharFilter()
    object_type = django_filters.CharFilter(lookup_expr="iexact")
    object_id = django_filters.CharFilter()

    class Meta:
        model = EventLog
        fields = [
            "created_after",
            "created_before",
            "user",
            "username",
            "action",
            "object_type",
            "object_id",
            "request_id",
        ]


class TaskLogFilterSet(LogFilterSet):
    status = django_filters.ChoiceFilter(choices=TaskLogStatusChoices.choices)
    name = django_filters.CharFilter()
    code = IntegerFilter()
    object_type = django_filters.CharFilter(lookup_expr="iexact")
    object_id = django_filters.CharFilter()

    class Meta:
        model = TaskLog
        fields = [
            "created_after",
            "created_before",
            "user",
            "status",
            "name",
            "code",
            "object_type",
            "object_id",
            "request_id",
        ]
