from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from rbac.services import grantable_roles, permissions_beyond

from .models import User
from .services import default_roles


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Users, with the same rule as the API: nobody raises their own rights.

    Someone who is not a superuser never sees superuser/staff/permission fields as editable,
    cannot change or delete a superuser or anyone holding a permission they lack (nor reset
    their password), cannot change their own roles, and may only give or take roles whose
    permissions they hold themselves (with `rbac.assign_role`); roles they cannot manage stay as
    they were. Nobody, superusers included, deactivates, demotes or deletes their own account,
    nor deletes the last active superuser.
    """

    list_display = [
        "username",
        "email",
        "real_name",
        "role_names",
        "is_active",
        "is_staff",
        "last_login",
    ]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups"]
    search_fields = ["username", "email", "real_name", "phone"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Profile"), {"fields": ("real_name", "phone")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),
    )
    _PRIVILEGED = ("is_superuser", "is_staff", "user_permissions")
    _SELF_LOCKED = ("is_active", "is_superuser", "is_staff")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def role_names(self, obj):
        return ", ".join(sorted(group.name for group in obj.groups.all()))

    def _may_assign(self, request, obj):
        return (
            request.user.has_perm("rbac.assign_role")
            and obj is not None
            and obj.pk != request.user.pk
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk == request.user.pk:
            readonly += [f for f in self._SELF_LOCKED if f not in readonly]
        if request.user.is_superuser:
            return readonly
        readonly += [f for f in self._PRIVILEGED if f not in readonly]
        if not self._may_assign(request, obj):
            readonly.append("groups")
        return readonly

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = grantable_roles(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _outranks(self, request, obj):
        """True when `obj` is a user the editor may not manage: a superuser, for anyone but a
        superuser, or someone holding a permission the editor does not."""
        if obj.pk == request.user.pk or request.user.is_superuser:
            return False
        return obj.is_superuser or bool(permissions_beyond(request.user, obj))

    def has_change_permission(self, request, obj=None):
        if obj is not None and self._outranks(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def _undeletable(self, request, obj):
        """Oneself, the last active superuser, and for a non-superuser anyone who outranks
        them."""
        if obj.pk == request.user.pk or self._outranks(request, obj):
            return True
        others = User.objects.filter(is_superuser=True, is_active=True).exclude(pk=obj.pk)
        return obj.is_superuser and obj.is_active and not others.exists()

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self._undeletable(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        """Bulk deletion obeys the same rule: what `_undeletable` names is protected."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        protected = [*protected, *(str(o) for o in objs if self._undeletable(request, o))]
        return deleted, counts, perms_needed, protected

    def save_related(self, request, form, formsets, change):
        """A user added here starts with the built-in ordinary-user role, as through the API.

        (The form offers an editor only the roles they may grant, and anyone holding a role
        beyond those is not theirs to change, so no role outside the form is lost.)
        """
        super().save_related(request, form, formsets, change)
        if not change and "groups" not in form.fields:
            form.instance.groups.add(*default_roles(request.user))
