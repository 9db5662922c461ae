"""Seed the two built-in roles and the menu tree of the portal's own pages.

Roles
    administrator  every permission of the portal's apps (accounts, rbac, platforms,
                   systemconfig, audit, vcenter, django_celery_beat) and every menu.
    user           ordinary user: read-only. `view_*` on the vCenter inventory (VMs, hosts,
                   datastores, networks, snapshots, images...) and on the system configuration
                   (portal name and logo), the dashboard, vCenter and profile menus. Not users,
                   roles, menus, cloud platforms (their hosts and service accounts) or logs.

Permission rows only exist once `post_migrate` has run for their app (and apps keep adding
models), so this migration creates the roles and grants menus only; `rbac.builtin.grant_builtin`
grants the permissions above after every `migrate`.

A user with no role at all can still sign in, read and edit their own profile (`users/me`) and
read their menus (`menus/mine`, empty for them): nothing else.
"""

from django.db import migrations

ROLES = [
    ("administrator", "administrator", "管理员：门户的全部权限"),
    ("user", "user", "普通用户：只读查看虚拟机与资源"),
]

# (name, path, component, title, icon, sort, is_hide, for ordinary users, children)
MENUS = [
    ("Dashboard", "/dashboard", "dashboard/index", "概览", "dashboard", 10, False, True, []),
    (
        "VCenter", "/vcenter", "Layout", "虚拟化", "cloud", 20, False, True,
        [
            ("VirtualMachineList", "/vcenter/vms", "vcenter/vms/index", "虚拟机", "monitor", 10, False),
            ("VirtualMachineDetail", "/vcenter/vms/:id", "vcenter/vms/detail", "虚拟机详情", "", 20, True),
            ("InventoryTree", "/vcenter/tree", "vcenter/tree/index", "资源树", "tree", 30, False),
            ("DatastoreList", "/vcenter/datastores", "vcenter/datastores/index", "存储", "database", 40, False),
            ("ImageList", "/vcenter/images", "vcenter/images/index", "镜像", "disc", 50, False),
            ("PortGroupList", "/vcenter/port-groups", "vcenter/port-groups/index", "端口组", "network", 60, False),
            ("ResourcePoolList", "/vcenter/resource-pools", "vcenter/resource-pools/index", "资源池", "pool", 70, False),
        ],
    ),
    (
        "Platforms", "/platforms", "Layout", "云平台", "server", 30, False, False,
        [
            ("PlatformList", "/platforms/list", "platforms/index", "平台管理", "server", 10, False),
            ("PlatformTypeList", "/platforms/types", "platforms/types", "平台类型", "tag", 20, False),
        ],
    ),
    (
        "System", "/system", "Layout", "系统管理", "setting", 40, False, False,
        [
            ("UserList", "/system/users", "system/users/index", "用户管理", "user", 10, False),
            ("RoleList", "/system/roles", "system/roles/index", "角色管理", "team", 20, False),
            ("MenuList", "/system/menus", "system/menus/index", "菜单管理", "menu", 30, False),
            ("SystemConfig", "/system/config", "system/config/index", "系统配置", "tool", 40, False),
        ],
    ),
    (
        "Logs", "/logs", "Layout", "日志", "file-text", 50, False, False,
        [
            ("RequestLogList", "/logs/requests", "logs/requests/index", "请求日志", "", 10, False),
            ("EventLogList", "/logs/events", "logs/events/index", "事件日志", "", 20, False),
            ("TaskLogList", "/logs/tasks", "logs/tasks/index", "任务日志", "", 30, False),
        ],
    ),
    ("Profile", "/profile", "profile/index", "个人中心", "user", 90, True, True, []),
]


def seed(apps, schema_editor):
    db = schema_editor.connection.alias
    Role = apps.get_model("rbac", "Role")
    Menu = apps.get_model("rbac", "Menu")

    # The built-in roles, unless an earlier run (or post_migrate) made them already.
    roles = {}
    for builtin, name, description in ROLES:
        role = Role.objects.using(db).filter(builtin=builtin).first()
        if role is None:
            role = Role.objects.using(db).create(
                name=name, description=description, builtin=builtin
            )
        roles[builtin] = role

    # The menu tree; the administrator gets every menu, the ordinary user the flagged ones.
    for name, path, component, title, icon, sort, is_hide, ordinary, children in MENUS:
        parent, _ = Menu.objects.using(db).get_or_create(
            name=name,
            defaults={
                "path": path, "component": component, "title": title, "icon": icon,
                "sort": sort, "is_hide": is_hide,
            },
        )
        granted = [parent]
        for c_name, c_path, c_component, c_title, c_icon, c_sort, c_hide in children:
            child, _ = Menu.objects.using(db).get_or_create(
                name=c_name,
                defaults={
                    "parent": parent, "path": c_path, "component": c_component,
                    "title": c_title, "icon": c_icon, "sort": c_sort, "is_hide": c_hide,
                },
            )
            granted.append(child)
        roles["administrator"].menus.add(*granted)
        if ordinary:
            roles["user"].menus.add(*granted)


def unseed(apps, schema_editor):
    db = schema_editor.connection.alias
    Role = apps.get_model("rbac", "Role")
    Menu = apps.get_model("rbac", "Menu")
    Role.objects.using(db).exclude(builtin="").delete()
    names = [m[0] for m in MENUS] + [c[0] for m in MENUS for c in m[8]]
    Menu.objects.using(db).filter(name__in=names, parent__isnull=False).delete()
    Menu.objects.using(db).filter(name__in=names, children__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("rbac", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
