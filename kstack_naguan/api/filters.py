"""Filters shared by the apps' FilterSets."""

import django_filters
from django import forms

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
