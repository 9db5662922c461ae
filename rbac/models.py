"""Menus (the SPA's routes) and roles (Django auth groups that also grant menus).

A `Role` is a multi-table child of `django.contrib.auth.models.Group`: every role *is* a group,
so `user.groups`, `group.permissions` and Django's `ModelBackend` work unchanged, and the admin and
the API check the very same permissions. The role row adds what a group lacks: a description, the
menus it grants, and whether it is one of the two built-in roles a migration creates.
"""

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# A route of the SPA: an absolute or relative path of the app, never a URL of its own (no
# scheme such as `javascript:`, no `//host`, no whitespace or backslash).
validate_route_path = RegexValidator(
    r"^(?!//)(?![A-Za-z][A-Za-z0-9+.-]*:)[^\s\\]+$",
    _("Enter a route of the app, such as /vcenter/vms or vms/:id, not a URL."),
    code="invalid_route",
)
# A component of the SPA's source tree, named relative to it, without `..`.
validate_component = RegexValidator(
    r"^(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9_./-]*$",
    _("Enter a component of the app, such as vcenter/vms/index, without '..'."),
    code="invalid_component",
)


class Menu(models.Model):
    """One route of the single-page app, placed in a tree by `parent` and ordered by `sort`.

    `is_hide` keeps a route out of the sidebar (it still exists, e.g. a detail page);
    `is_hide_children` shows the entry but folds its children away.
    """

    parent = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    path = models.CharField(_("path"), max_length=200, validators=[validate_route_path])
    name = models.CharField(_("route name"), max_length=64)
    component = models.CharField(
        _("component"), max_length=200, blank=True, validators=[validate_component]
    )
    title = models.CharField(_("title"), max_length=64)
    icon = models.CharField(_("icon"), max_length=64, blank=True)
    sort = models.IntegerField(_("sort"), default=0)
    is_hide = models.BooleanField(_("hidden"), default=False)
    is_hide_children = models.BooleanField(_("children hidden"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("menu")
        verbose_name_plural = _("menus")
        ordering = ["sort", "id"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="rbac_menu_name_unique"),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="rbac_menu_not_own_parent"),
        ]

    def __str__(self):
        return f"{self.title} ({self.path})"

    def ancestor_ids(self):
        """Ids of this menu's ancestors, nearest first (one query per level; trees are shallow)."""
        ids = []
        parent_id = self.parent_id
        while parent_id is not None and parent_id not in ids:
            ids.append(parent_id)
            parent_id = (
                Menu.objects.filter(pk=parent_id).values_list("parent_id", flat=True).first()
            )
        return ids

    def clean(self):
        """Refuse a parent that is the menu itself or one of its descendants (a cycle)."""
        super().clean()
        if self.pk is None or self.parent_id is None:
            return
        if self.parent_id == self.pk or self.pk in self.parent.ancestor_ids():
            raise ValidationError(
                {"parent": _("A menu cannot be placed under itself or one of its children.")},
                code="menu_cycle",
            )


class RoleBuiltinChoices(models.TextChoices):
    """The two roles a data migration creates and nobody may delete."""

    ADMINISTRATOR = "administrator", _("Administrator")
    USER = "user", _("Ordinary user")


class Role(Group):
    """A Django auth group with a description, the menus it grants, and a built-in marker.

    `builtin` names which built-in role this is (empty for roles operators create), so the
    built-in roles keep their identity even if an operator renames them.
    """

    group = models.OneToOneField(
        Group,
        models.CASCADE,
        parent_link=True,
        primary_key=True,
        related_name="role",
        verbose_name=_("group"),
    )
    description = models.CharField(_("description"), max_length=255)
    builtin = models.CharField(
        _("built-in role"),
        max_length=16,
        choices=RoleBuiltinChoices.choices,
        blank=True,
        default="",
        editable=False,
    )
    menus = models.ManyToManyField(Menu, blank=True, related_name="roles", verbose_name=_("menus"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["name"]
        permissions = [("assign_role", _("Can assign roles to users"))]
        constraints = [
            models.UniqueConstraint(
                fields=["builtin"], condition=~Q(builtin=""), name="rbac_role_builtin_unique"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_builtin(self):
        """True for the administrator and ordinary-user roles, which cannot be deleted."""
        return bool(self.builtin)

    def clean(self):
        """Refuse a name that another role or group already has in another letter case, so
        nobody sets up an "Administrator" beside the built-in "administrator"."""
        super().clean()
        taken = Group.objects.filter(name__iexact=self.name).exclude(pk=self.pk)
        if self.name and taken.exclude(name=self.name).exists():
            raise ValidationError({"name": _("Role name already exists")}, code="role_name_case")
