from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from audit.services import record_event
from kstack_naguan.api.exceptions import ApiError

from . import services
from .models import SystemConfig


class SystemConfigForm(forms.ModelForm):
    """The logo is checked as the API checks it: a real image, under the size cap."""

    class Meta:
        model = SystemConfig
        fields = [
            "name",
            "logo",
            "footer",
            "debug",
            "sync_interval_minutes",
            "log_retention_days",
        ]

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if isinstance(logo, UploadedFile):
            try:
                services.check_logo(logo)
            except ApiError as exc:
                reasons = (exc.data or {}).get("errors", {}).get("logo") or [exc.code.msg]
                raise ValidationError(reasons) from None
        return logo


@admin.register(SystemConfig)
class SystemConfigAdmin(admin.ModelAdmin):
    form = SystemConfigForm
    list_display = ["name", "footer", "debug", "sync_interval_minutes", "log_retention_days"]
    readonly_fields = ["created_at", "updated_at"]

    def has_add_permission(self, request):
        # One row only: once it exists, it is changed, not added again.
        return super().has_add_permission(request) and not SystemConfig.objects.exists()

    def save_model(self, request, obj, form, change):
        before = services.config_summary(SystemConfig.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        record_event(
            request.user,
            "update" if change else "create",
            obj,
            before=before,
            after=services.config_summary(obj),
            message="changed in the admin: " + ", ".join(form.changed_data),
        )

    def delete_model(self, request, obj):
        before, pk = services.config_summary(obj), obj.pk
        super().delete_model(request, obj)
        record_event(
            request.user,
            "delete",
            object_type=SystemConfig._meta.label,
            object_id=pk,
            object_repr=before["name"],
            before=before,
            message="deleted in the admin",
        )
