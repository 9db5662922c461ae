"""The small forms behind the VM page's clone and migrate buttons in the admin.

They only choose among mirrored objects of the VM's platform; the rules (placement, free names,
reachable datastores, power state) are `vcenter.operations`' to check, as for the API.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Datacenter, Datastore, Folder, Host, ResourcePool


class _PlacedChoiceField(forms.ModelChoiceField):
    """An inventory object labelled with its datacenter, for platforms with several."""

    def label_from_instance(self, obj):
        datacenter = getattr(obj, "datacenter", None)
        return f"{obj.name} ({datacenter.name})" if datacenter is not None else obj.name


def _choice(queryset, label, help_text=""):
    if any(f.name == "datacenter" for f in queryset.model._meta.fields):
        queryset = queryset.select_related("datacenter").order_by("datacenter__name", "name")
    return _PlacedChoiceField(
        queryset=queryset,
        required=False,
        label=label,
        help_text=help_text,
    )


class VmOperationForm(forms.Form):
    """Choices limited to the inventory of `vm`'s platform (or of its datacenter)."""

    same_datacenter = False

    def __init__(self, *args, vm, **kwargs):
        super().__init__(*args, **kwargs)
        self.vm = vm
        scope = {"platform": vm.platform}
        if self.same_datacenter:
            scope["datacenter"] = vm.datacenter
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField):
                field.queryset = field.queryset.filter(**scope)
        if "folder" in self.fields:
            # Only VM folders can hold a clone; JSON lookups differ per database, so filter here.
            folders = [
                f.pk
                for f in Folder.objects.filter(**scope).only("pk", "child_types")
                if "VirtualMachine" in (f.child_types or [])
            ]
            self.fields["folder"].queryset = self.fields["folder"].queryset.filter(pk__in=folders)

    def operation_data(self):
        """The cleaned data as the operation takes it: objects by primary key, None if unset."""
        return {
            name: value.pk if hasattr(value, "pk") else value
            for name, value in self.cleaned_data.items()
        }


class CloneForm(VmOperationForm):
    """Clone a VM or template: a new name and, optionally, where it goes."""

    name = forms.CharField(label=_("name of the clone"), max_length=255)
    datacenter = _choice(
        Datacenter.objects.all(), _("datacenter"), _("Empty: the source's datacenter.")
    )
    host = _choice(Host.objects.all(), _("host"))
    resource_pool = _choice(ResourcePool.objects.all(), _("resource pool"))
    datastore = _choice(Datastore.objects.all(), _("datastore"), _("Empty: the source's."))
    folder = _choice(Folder.objects.all(), _("folder"), _("Empty: the source's folder."))
    power_on = forms.BooleanField(label=_("power on after cloning"), required=False)
    template = forms.BooleanField(label=_("mark the clone as a template"), required=False)

    def clean(self):
        """A clone cannot be both a template and powered on."""
        cleaned = super().clean()
        if cleaned.get("template") and cleaned.get("power_on"):
            self.add_error("power_on", _("A template cannot be powered on."))
        return cleaned


class MigrateForm(VmOperationForm):
    """Cold-migrate a VM to another host, resource pool and/or datastore of its datacenter."""

    same_datacenter = True

    host = _choice(Host.objects.all(), _("target host"))
    resource_pool = _choice(ResourcePool.objects.all(), _("target resource pool"))
    datastore = _choice(Datastore.objects.all(), _("target datastore"))
    power_off = forms.BooleanField(
        label=_("power off a running VM, migrate it, power it back on"), required=False
    )

    def clean(self):
        """A migration needs somewhere to go."""
        cleaned = super().clean()
        if not any(cleaned.get(name) for name in ("host", "resource_pool", "datastore")):
            raise forms.ValidationError(_("Choose a host, a resource pool or a datastore."))
        return cleaned
