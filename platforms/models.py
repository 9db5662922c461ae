import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from kstack_naguan import crypto

_HOST = re.compile(r"^[A-Za-z0-9._:\[\]-]+$")


def validate_host(value):
    """Accept a host name or an IP address: no scheme, path, port or spaces."""
    if not _HOST.match(value or "") or "://" in value:
        raise ValidationError(
            _("Enter a host name or IP address only, without scheme, port or path."),
            code="invalid_host",
        )


class PlatformType(models.Model):
    """A kind of cloud platform the portal can manage; `vCenter` is created by a migration."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("platform type")
        verbose_name_plural = _("platform types")
        ordering = ["name"]

    def __str__(self):
        return self.name


# Why a change of endpoint needs the password again (`CloudPlatform.exposing_changes`).
PASSWORD_AGAIN = _(
    "Give the password again to change %(fields)s: the stored one is only sent where it was "
    "meant to go."
)


class CloudPlatform(models.Model):
    """A vCenter endpoint: where it is, how to sign in (password encrypted at rest), TLS policy."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    platform_type = models.ForeignKey(
        PlatformType, models.PROTECT, related_name="platforms", verbose_name=_("type")
    )
    host = models.CharField(_("host"), max_length=255, validators=[validate_host])
    port = models.PositiveIntegerField(
        _("port"), default=443, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    username = models.CharField(_("username"), max_length=128)
    password_encrypted = models.TextField(_("password (encrypted)"), editable=False)
    protocol = models.CharField(
        _("protocol"),
        max_length=8,
        default="https",
        choices=[("https", "https"), ("http", "http")],
        help_text=_("http only for simulators and labs."),
    )
    verify_tls = models.BooleanField(
        _("verify TLS certificate"),
        default=True,
        help_text=_("Switch off only for a vCenter with a self-signed certificate."),
    )
    remarks = models.TextField(_("remarks"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("cloud platform")
        verbose_name_plural = _("cloud platforms")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def password(self):
        """The plaintext password, decrypted on demand; it is never stored in clear."""
        return crypto.decrypt(self.password_encrypted) if self.password_encrypted else ""

    @password.setter
    def password(self, value):
        self.password_encrypted = crypto.encrypt(value) if value else ""

    def exposing_changes(self, **values):
        """The fields among `values` that would send the stored password elsewhere: another
        host, port or protocol, or TLS verification switched off. Such a change must come
        with the password again, or whoever may edit a platform could point it at a listener
        of their own and read the password from the next connection test or sync."""
        changed = [
            field
            for field in ("host", "port", "protocol")
            if field in values and values[field] != getattr(self, field)
        ]
        if self.verify_tls and values.get("verify_tls") is False:
            changed.append("verify_tls")
        return changed
