from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils.translation import gettext_lazy as _

from audit.services import record_event
from kstack_naguan.api import codes
from kstack_naguan.crypto import DecryptionError
from vcenter.client import VCenterError, VCenterUnreachable

from .models import PASSWORD_AGAIN, CloudPlatform, PlatformType
from .services import platform_summary, platform_type_summary, test_connection


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

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.instance.password_encrypted and not cleaned.get("password"):
            endpoint = {
                f: cleaned[f] for f in ("host", "port", "protocol", "verify_tls") if f in cleaned
            }
            exposing = self.instance.exposing_changes(**endpoint)
            if exposing:
                self.add_error("password", PASSWORD_AGAIN % {"fields": ", ".join(exposing)})
        return cleaned

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
    actions = ["sync_now"]

    # The "test connection" button (as POST platforms/{id}/test-connection) and a sync action.

    def has_sync_permission(self, request):
        return request.user.has_perm("vcenter.sync_inventory")

    def has_test_connection_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_test_connection": self.has_test_connection_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="platforms_cloudplatform_test_connection",
            ),
            *super().get_urls(),
        ]

    def test_connection_view(self, request, object_id):
        """Log into the platform's vCenter (POST only) and say how it went on its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if object_id > 2**63 - 1:
            raise Http404
        platform = get_object_or_404(CloudPlatform, pk=object_id)
        if not self.has_test_connection_permission(request, platform):
            raise PermissionDenied
        try:
            about = test_connection(request.user, platform)
        except (VCenterError, DecryptionError) as exc:
            code = codes.VCENTER_UNREACHABLE if isinstance(exc, VCenterUnreachable) else None
            code = code or codes.CONNECTION_FAILED
            self.message_user(request, f"{code.msg} ({code.number}): {exc}", messages.ERROR)
        else:
            code = codes.CONNECTION_OK
            self.message_user(
                request,
                f"{code.msg} ({code.number}): {about['name']} {about['version']}",
                messages.SUCCESS,
            )
        return redirect("admin:platforms_cloudplatform_change", platform.pk)

    @admin.action(description=_("Sync now"), permissions=["sync"])
    def sync_now(self, request, queryset):
        from vcenter.admin import sync_platforms

        if not self.has_sync_permission(request):
            raise PermissionDenied
        sync_platforms(self, request, queryset)
