from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.models import Group
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Menu, Role, RoleBuiltinChoices
from .services import grantable_permissions, may_delete_role

# Roles replace the plain group admin: a role *is* a group, with a description and menus.
admin.site.unregister(Group)


def tree_order(menus):
    """Return `menus` depth-first (each parent followed by its children, siblings by sort) and
    set `tree_depth` on each."""
    by_parent = {}
    for menu in sorted(menus, key=lambda m: (m.sort, m.pk)):
        by_parent.setdefault(menu.parent_id, []).append(menu)
    ids = {menu.pk for menu in menus}
    ordered = []

    def walk(parent_id, depth):
        for menu in by_parent.get(parent_id, []):
            menu.tree_depth = depth
            ordered.append(menu)
            walk(menu.pk, depth + 1)

    walk(None, 0)
    # Menus whose parent is filtered out of the page start their own branch.
    for parent_id in by_parent:
        if parent_id is not None and parent_id not in ids:
            walk(parent_id, 0)
    return ordered


class MenuTreeChangeList(ChangeList):
    """The change list in tree order unless the operator sorts by a column."""

    def get_results(self, request):
        super().get_results(request)
        if "o" not in self.params:
            self.result_list = tree_order(list(self.result_list))


@admin.register(Menu)
class MenuAdmin(admin.ModelAdmin):
    """Menus shown as a tree: parents first, children indented beneath, siblings by sort."""

    list_display = [
        "tree_title",
        "path",
        "name",
        "component",
        "sort",
        "is_hide",
        "is_hide_children",
    ]
    list_filter = ["is_hide", "is_hide_children", "parent"]
    search_fields = ["title", "name", "path"]
    list_per_page = 500
    autocomplete_fields = ["parent"]
    fields = [
        "parent",
        "title",
        "path",
        "name",
        "component",
        "icon",
        "sort",
        "is_hide",
        "is_hide_children",
    ]

    def get_changelist(self, request, **kwargs):
        return MenuTreeChangeList

    @admin.display(description=_("title"))
    def tree_title(self, obj):
        depth = getattr(obj, "tree_depth", 0)
        return format_html('<span style="padding-left:{}em">{}</span>', depth * 1.5, obj.title)


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    """Roles with menu and permission pickers, under the API's rules (`rbac.services`).

    The built-in roles cannot be deleted or renamed. Someone who is not a superuser is only
    offered the permissions they hold themselves (the others a role grants stay as they were),
    cannot delete a role granting more than they hold, and sees the built-in administrator
    role's permissions and menus read-only.
    """

    list_display = ["name", "description", "is_builtin", "created_at"]
    list_filter = ["builtin"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "builtin", "permissions", "menus"]
    readonly_fields = ["builtin"]
    filter_horizontal = ["permissions", "menus"]

    @admin.display(boolean=True, description=_("built-in"))
    def is_builtin(self, obj):
        return obj.is_builtin

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "permissions":
            kwargs["queryset"] = grantable_permissions(request.user).select_related("content_type")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.is_builtin:
            readonly.append("name")
        administrator = obj is not None and obj.builtin == RoleBuiltinChoices.ADMINISTRATOR
        if administrator and not request.user.is_superuser:
            readonly += ["permissions", "menus"]
        return readonly

    def has_delete_permission(self, request, obj=None):
        if obj is not None and (obj.is_builtin or not may_delete_role(request.user, obj)):
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        """Bulk deletion refuses, as protected objects, the built-in roles and the roles
        granting permissions the editor does not hold."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        refused = [o for o in objs if o.is_builtin or not may_delete_role(request.user, o)]
        protected = [*protected, *(str(o) for o in refused)]
        return deleted, counts, perms_needed, protected

    def save_related(self, request, form, formsets, change):
        """Keep permissions the editor does not hold: the picker only offers the ones they do."""
        kept = []
        if change and not request.user.is_superuser:
            offered = set(grantable_permissions(request.user).values_list("pk", flat=True))
            kept = [p for p in form.instance.permissions.all() if p.pk not in offered]
        super().save_related(request, form, formsets, change)
        if kept:
            form.instance.permissions.add(*kept)
