"""Serializer fields shared by the accounts and rbac APIs."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StrictBooleanField(serializers.BooleanField):
    """A boolean that accepts JSON `true`/`false` and, for form bodies, "true"/"false"/"1"/"0".

    DRF's own BooleanField also takes "yes", "on", 1 and 0; flags such as `is_active` and
    `is_hide` are contract fields of the SPA, so anything but a real boolean is refused.
    `""` is reported with the error code `blank` and `null` with `null`, so callers can tell an
    empty value from a wrong one.
    """

    default_error_messages = {
        "invalid": _("Must be a boolean (true or false)."),
        "blank": _("This field may not be blank."),
    }
    # A form body that leaves the field out means "not given", not False as for an HTML checkbox.
    default_empty_html = serializers.empty
    _TRUE = frozenset({"true", "1"})
    _FALSE = frozenset({"false", "0"})

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if isinstance(data, str):
            text = data.strip().lower()
            if text in self._TRUE:
                return True
            if text in self._FALSE:
                return False
            if not text:
                self.fail("blank")
        self.fail("invalid", input=data)
        return None  # unreachable: fail() raises


class PrimaryKeyListField(serializers.ListField):
    """A list of ids resolved to objects of `queryset` with one query (not one per id).

    Ids must be integers within a 64-bit key; an unknown id is an error naming it. The result
    keeps the order given, without duplicates.
    """

    default_error_messages = {"unknown": _("Unknown id(s): {ids}.")}

    def __init__(self, queryset, **kwargs):
        self.queryset = queryset
        kwargs.setdefault("child", serializers.IntegerField(min_value=1, max_value=2**63 - 1))
        kwargs.setdefault("max_length", 1000)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        ids = list(dict.fromkeys(super().to_internal_value(data)))
        found = self.queryset.in_bulk(ids)
        missing = [pk for pk in ids if pk not in found]
        if missing:
            self.fail("unknown", ids=", ".join(str(pk) for pk in missing[:20]))
        return [found[pk] for pk in ids]
