from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.services import record_event

from .models import CloudPlatform, PlatformType
from .services import platform_summary, platform_type_summary


class EventLogAdminMixin:
    """Changes made in the admin go to the event log as the API's do, without any password."""

    summary = None

    def save_model(self, request, obj, form, change):
        before = self.summary(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        changed = ", ".join(form.changed_data) or "nothing"
        record_event(
            request.user,
            "update" if change else "create",
            obj,
            before=before,
            after=self.summary(obj),
            message=f"changed in the admin: {changed}",
        )

    def delete_model(self, request, obj):
        before, pk, label = self.summary(obj), obj.pk, str(obj)
        super().delete_model(request, obj)
        record_event(
            request.user,
            "delete",
            object_type=obj._meta.label,
            object_id=pk,
            object_repr=label,
            before=before,
            message="deleted in the admin",
        )


class CloudPlatformForm(forms.ModelForm):
    """The password is write-only: left empty on change, the stored one is kept."""

    password = forms.CharField(
        label=_("password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the stored password."),
    )

    class Meta:
        model = CloudPlatform
        fields = [
            "name",
            "platform_type",
            "host",
            "port",
            "protocol",
            "username",
            "password",
            "verify_tls",
            "is_active",
            "remarks",
        ]

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if not password and not self.instance.password_encrypted:
            raise forms.ValidationError(_("A password is required."))
        return password

    def save(self, commit=True):
        if self.cleaned_data.get("password"):
            self.instance.password = self.cleaned_data["password"]
        return super().save(commit)


@admin.register(PlatformType)
class PlatformTypeAdmin(EventLogAdminMixin, admin.ModelAdmin):
    summary = staticmethod(platform_type_summary)
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]


@admin.register(CloudPlatform)
class CloudPlatformAdmin(EventLogAdminMixin, admin.ModelAdmin):
    form = CloudPlatformForm
    summary = staticmethod(platform_summary)
    list_display = [
        "name",
        "platform_type",
        "host",
        "port",
        "username",
        "verify_tls",
        "is_active",
        "last_synced_at",
    ]
    list_filter = ["platform_type", "is_active", "verify_tls"]
    search_fields = ["name", "host", "remarks"]
    readonly_fields = ["last_synced_at", "created_at", "updated_at"]
