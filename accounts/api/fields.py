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
