"""Filters shared by the apps' FilterSets."""

from datetime import UTC, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

BIGINT_MAX = 2**63 - 1


class IntegerFilter(django_filters.NumberFilter):
    """A whole number within the database's range: no decimals, no overflow into a 500."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -BIGINT_MAX)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class IdFilter(IntegerFilter):
    """A primary key: a positive whole number within the database's range."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        super().__init__(*args, **kwargs)


class BoundedModelChoiceField(forms.ModelChoiceField):
    """A row named by its primary key; a key that is no positive 64-bit integer names nothing,
    and is refused before it reaches the database (SQLite overflows past 64 bits)."""

    def to_python(self, value):
        if value not in self.empty_values:
            text = str(value).strip()
            if not text.isdigit() or not 1 <= int(text) <= BIGINT_MAX:
                raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class ModelIdFilter(django_filters.ModelChoiceFilter):
    """A related row by its id; an id that names nothing is a validation error."""

    field_class = BoundedModelChoiceField


# Real UTC offsets run from -12:00 to +14:00; PostgreSQL refuses more than about 16 hours.
MAX_UTC_OFFSET = timedelta(hours=14)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time with a real UTC offset, converted to UTC before it reaches a query."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        if abs(parsed.utcoffset()) > MAX_UTC_OFFSET:
            raise ValidationError("The UTC offset must lie within ±14:00.", code="invalid")
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError("The time is out of range.", code="invalid") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time filter that answers 400, not 500, to an offset no database accepts."""

    field_class = UtcIsoDateTimeField


class IpAddressFilter(django_filters.CharFilter):
    """An IPv4 or IPv6 address: anything else is refused before it meets an `inet` column."""

    field_class = forms.GenericIPAddressField
