"""Template tags for the admin's frame: the portal's logo from the system configuration."""

from django import template
from django.db import DatabaseError

register = template.Library()


@register.simple_tag
def portal_logo_url():
    """The URL of the configured logo, or "" when there is none (or no configuration yet)."""
    from systemconfig.models import SystemConfig

    try:
        config = SystemConfig.objects.order_by("id").only("logo").first()
    except DatabaseError:  # before migrate, or the database is away: show the name alone
        return ""
    if config is None or not config.logo:
        return ""
    return config.logo.url
