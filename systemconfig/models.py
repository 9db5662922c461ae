from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_SYNC_INTERVAL_MINUTES = 7 * 24 * 60
MAX_LOG_RETENTION_DAYS = 3650


class SystemConfig(models.Model):
    """The portal's run-time configuration: one row, edited by operators."""

    name = models.CharField(_("portal name"), max_length=64, default="KStack Naguan")
    logo = models.ImageField(_("logo"), upload_to="logo/", blank=True)
    footer = models.CharField(_("copyright / footer"), max_length=255, blank=True)
    debug = models.BooleanField(_("debug"), default=False)
    sync_interval_minutes = models.PositiveIntegerField(
        _("sync interval (minutes)"),
        default=30,
        validators=[MaxValueValidator(MAX_SYNC_INTERVAL_MINUTES)],
        help_text=_("0 switches the scheduled inventory sync off."),
    )
    log_retention_days = models.PositiveIntegerField(
        _("log retention (days)"),
        default=90,
        validators=[MaxValueValidator(MAX_LOG_RETENTION_DAYS)],
        help_text=_(
            "Request, event and finished task logs older than this are deleted nightly; "
            "0 keeps them forever."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("system configuration")
        verbose_name_plural = _("system configuration")
        ordering = ["id"]

    def __str__(self):
        return self.name

    @classmethod
    def current(cls):
        """The configuration row, or None before one is created."""
        return cls.objects.order_by("id").first()
