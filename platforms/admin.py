from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import CloudPlatform, PlatformType


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
class PlatformTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]


@admin.register(CloudPlatform)
class CloudPlatformAdmin(admin.ModelAdmin):
    form = CloudPlatformForm
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
