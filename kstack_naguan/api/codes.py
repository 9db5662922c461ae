"""The registry of response codes: the seed table agreed with the SPA plus a generic 900 block.

Each `Code` has a number and an English message marked for translation; the Chinese text of the
seed table lives in the `zh_Hans` catalogue, so `msg` follows the request's language through
Django's own i18n. Codes are reached by name (`codes.USER_CREATED`) or number (`codes.get(1100)`).
`docs/error-codes.md` documents the same table, and a test keeps the two in step.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Code:
    """One response code: its number, its constant name and its translatable message."""

    number: int
    name: str
    message: Promise

    @property
    def msg(self):
        """The message in the active language."""
        return str(self.message)

    def __int__(self):
        return self.number


REGISTRY: dict[int, Code] = {}


def _define(number, name, message):
    if number in REGISTRY:
        raise ValueError(f"code {number} is defined twice")
    code = Code(number, name, message)
    REGISTRY[number] = code
    globals()[name] = code
    return code


def get(number):
    """Return the registered `Code` for `number`, raising KeyError for an unknown one."""
    return REGISTRY[int(number)]


# fmt: off
_TABLE = [
    # Generic block (not in the seed): transport-level answers shared by every route.
    (900, "TASK_ACCEPTED", _("Task accepted")),
    (901, "NOT_AUTHENTICATED", _("Authentication credentials were missing or invalid")),
    (902, "PERMISSION_DENIED", _("You do not have permission to perform this action")),
    (903, "NOT_FOUND", _("Not found")),
    (904, "METHOD_NOT_ALLOWED", _("Method not allowed")),
    (905, "MALFORMED_REQUEST", _("Malformed request body")),
    (906, "THROTTLED", _("Too many requests, try again later")),
    (907, "UNSUPPORTED_MEDIA_TYPE", _("Unsupported media type")),
    (908, "INVALID_INPUT", _("Invalid input")),
    (909, "NOT_ACCEPTABLE", _("Requested response format is not available")),
    (910, "REQUEST_TOO_LARGE", _("Request body too large")),
    (911, "CONFLICT", _("The resource is busy, try again later")),
    (912, "IN_USE", _("The resource is in use and cannot be deleted")),
    (913, "ALREADY_EXISTS", _("The resource already exists")),
    (914, "QUEUE_UNAVAILABLE", _("The task queue is unavailable, try again later")),
    (920, "VCENTER_UNREACHABLE", _("vCenter is unreachable")),
    (930, "OK", _("Success")),
    (931, "TOKEN_REFRESHED", _("Token refreshed")),
    (932, "LOGGED_OUT", _("Logged out")),
    (933, "PASSWORD_CHANGED", _("Password changed")),
    (934, "CONNECTION_OK", _("Connection succeeded")),
    (935, "CONNECTION_FAILED", _("Connection failed")),
    (999, "INTERNAL_ERROR", _("Internal server error")),
    # Login 1000-1099
    (1000, "LOGIN_OK", _("Login succeeded")),
    (1001, "LOGIN_EMPTY", _("Username or password is empty")),
    (1002, "LOGIN_NO_USER", _("Username does not exist")),
    (1003, "LOGIN_BAD_PASSWORD", _("Wrong password")),
    # Users 1100-1199
    (1100, "USER_CREATED", _("Created successfully")),
    (1101, "USER_MISSING_PARAMS", _("Missing parameters")),
    (1102, "USER_EMAIL_EXISTS", _("Email already exists")),
    (1103, "USER_NAME_EXISTS", _("Username already exists")),
    (1104, "USER_CREATE_ERROR", _("Other error")),
    (1110, "USER_DELETED", _("Deleted successfully")),
    (1111, "USER_DELETE_NOT_FOUND", _("User does not exist")),
    (1112, "USER_DELETE_ERROR", _("Other error")),
    (1120, "USER_UPDATED", _("Updated successfully")),
    (1121, "USER_BAD_ACTIVE", _("Invalid value for active")),
    (1122, "USER_NO_FIELDS", _("No field to update was given")),
    (1123, "USER_UPDATE_NOT_FOUND", _("User does not exist")),
    (1124, "USER_UPDATE_ERROR", _("Other error")),
    (1130, "USER_QUERY_OK", _("Query succeeded")),
    (1131, "USER_QUERY_FAILED", _("Query failed")),
    (1132, "USER_QUERY_DB_ERROR", _("Database operation failed")),
    # Menus 1200-1299
    (1200, "MENU_CREATED", _("Created successfully")),
    (1201, "MENU_BAD_IS_HIDE", _("Invalid value for is_hide")),
    (1202, "MENU_BAD_IS_HIDE_CHILDREN", _("Invalid value for is_hide_children")),
    (1210, "MENU_DELETED", _("Deleted successfully")),
    (1211, "MENU_HAS_CHILDREN", _("The menu has child menus")),
    (1212, "MENU_DELETE_NOT_FOUND", _("Menu does not exist")),
    (1213, "MENU_DELETE_ERROR", _("Other error")),
    (1220, "MENU_UPDATED", _("Updated successfully")),
    (1221, "MENU_IS_HIDE_EMPTY", _("is_hide is empty")),
    (1222, "MENU_UPDATE_BAD_IS_HIDE", _("Invalid value for is_hide")),
    (1223, "MENU_UPDATE_NOT_FOUND", _("Menu does not exist")),
    (1224, "MENU_UPDATE_DB_ERROR", _("Database operation failed")),
    (1230, "MENU_QUERY_OK", _("Query succeeded")),
    (1231, "MENU_QUERY_FAILED", _("Query failed")),
    # Roles 1300-1399
    (1300, "ROLE_CREATED", _("Created successfully")),
    (1301, "ROLE_EMPTY", _("Role name or description is empty")),
    (1302, "ROLE_NAME_EXISTS", _("Role name already exists")),
    (1303, "ROLE_CREATE_DB_ERROR", _("Database operation failed")),
    (1310, "ROLE_DELETED", _("Deleted successfully")),
    (1311, "ROLE_DELETE_NOT_FOUND", _("Role does not exist")),
    (1312, "ROLE_BUILTIN", _("The administrator and ordinary user roles cannot be deleted")),
    (1320, "ROLE_UPDATED", _("Updated successfully")),
    (1321, "ROLE_UPDATE_NOT_FOUND", _("Role does not exist")),
    (1322, "ROLE_UPDATE_NAME_EXISTS", _("Role name already exists")),
    (1323, "ROLE_UPDATE_DB_ERROR", _("Database operation failed")),
    (1330, "ROLE_QUERY_OK", _("Query succeeded")),
    (1331, "ROLE_QUERY_DB_ERROR", _("Database operation failed")),
    # User roles 1400-1499
    (1400, "USER_ROLE_ADDED", _("Added successfully")),
    (1401, "USER_ROLE_ADD_BAD_PARAMS", _("Invalid parameters")),
    (1410, "USER_ROLE_DELETED", _("Deleted successfully")),
    (1411, "USER_ROLE_DELETE_BAD_PARAMS", _("Invalid parameters")),
    (1420, "USER_ROLE_UPDATED", _("Updated successfully")),
    (1421, "USER_ROLE_UPDATE_BAD_PARAMS", _("Invalid parameters")),
    (1430, "USER_ROLE_QUERY_OK", _("Query succeeded")),
    (1431, "USER_ROLE_QUERY_FAILED", _("Query failed")),
    # Cloud platforms and platform types 1500-1599
    (1500, "PLATFORM_CREATED", _("Created successfully")),
    (1501, "PLATFORM_BAD_PARAMS", _("Invalid parameters")),
    (1502, "PLATFORM_NAME_EXISTS", _("Platform name or platform type already exists")),
    (1503, "PLATFORM_CREATE_DB_ERROR", _("Database operation failed")),
    (1510, "PLATFORM_DELETED", _("Deleted successfully")),
    (1511, "PLATFORM_DELETE_NOT_FOUND", _("Platform or platform type does not exist")),
    (1512, "PLATFORM_DELETE_DB_ERROR", _("Database operation failed")),
    (1520, "PLATFORM_UPDATED", _("Updated successfully")),
    (1521, "PLATFORM_UPDATE_NOT_FOUND", _("Platform or platform type does not exist")),
    (1522, "PLATFORM_UPDATE_DB_ERROR", _("Database operation failed")),
    (1523, "PLATFORM_TYPE_EMPTY", _("Platform type is empty")),
    (1524, "PLATFORM_UPDATE_BAD_PARAMS", _("Invalid update parameters")),
    (1530, "PLATFORM_QUERY_OK", _("Query succeeded")),
    (1531, "PLATFORM_QUERY_FAILED", _("Query failed")),
    # System configuration 1600-1699
    (1600, "CONFIG_CREATED", _("Created successfully")),
    (1601, "CONFIG_BAD_DEBUG", _("Invalid value for debug")),
    (1602, "CONFIG_CREATE_DB_ERROR", _("Database operation failed")),
    (1610, "CONFIG_UPDATED", _("Updated successfully")),
    (1611, "CONFIG_UPDATE_NOT_FOUND", _("Configuration does not exist")),
    (1612, "CONFIG_UPDATE_DB_ERROR", _("Database operation failed")),
    (1620, "LOGO_UPDATED", _("Updated successfully")),
    (1621, "LOGO_CONFIG_NOT_FOUND", _("Configuration does not exist")),
    (1622, "LOGO_DB_ERROR", _("Database operation failed")),
    (1630, "CONFIG_QUERY_OK", _("Fetched successfully")),
    (1631, "CONFIG_NOT_FOUND", _("System configuration does not exist")),
    # Request, event and task logs 1700-1999
    (1710, "REQUEST_LOG_DELETED", _("Deleted successfully")),
    (1711, "REQUEST_LOG_NOT_FOUND", _("Log entry does not exist")),
    (1712, "REQUEST_LOG_DELETE_ERROR", _("Database delete failed")),
    (1730, "REQUEST_LOG_QUERY_OK", _("Fetched successfully")),
    (1731, "REQUEST_LOG_QUERY_FAILED", _("Fetch failed")),
    (1810, "EVENT_LOG_DELETED", _("Deleted successfully")),
    (1811, "EVENT_LOG_NOT_FOUND", _("Log entry does not exist")),
    (1812, "EVENT_LOG_DELETE_ERROR", _("Database delete failed")),
    (1830, "EVENT_LOG_QUERY_OK", _("Fetched successfully")),
    (1831, "EVENT_LOG_QUERY_FAILED", _("Fetch failed")),
    (1910, "TASK_LOG_DELETED", _("Deleted successfully")),
    (1911, "TASK_LOG_NOT_FOUND", _("Log entry does not exist")),
    (1912, "TASK_LOG_DELETE_ERROR", _("Database delete failed")),
    (1930, "TASK_LOG_QUERY_OK", _("Fetched successfully")),
    (1931, "TASK_LOG_QUERY_FAILED", _("Fetch failed")),
    # VM operations 2000-2099
    (2000, "VM_CREATED", _("VM created")),
    (2001, "VM_CREATE_NO_DISK_TYPE", _("VM creation failed: missing parameter (disk type)")),
    (2002, "VM_CREATE_NO_DISK_SIZE", _("VM creation failed: missing parameter (disk size)")),
    (2003, "VM_CREATE_BAD_DISKS", _('VM creation failed: malformed disk list, e.g. [{"type":"thin","size":1}]')),
    (2004, "VM_CREATE_NO_DATACENTER", _("VM creation failed: datacenter not found")),
    (2005, "VM_CREATE_TASK_FAILED", _("VM creation failed: task failed")),
    (2006, "VM_CREATE_NETWORK_FAILED", _("VM creation failed: network attachment failed")),
    (2007, "VM_CREATE_DISK_FAILED", _("VM creation failed: disk attachment failed")),
    (2008, "VM_CREATE_ISO_FAILED", _("VM creation failed: ISO image attachment failed")),
    (2009, "VM_BAD_ACTION", _("Invalid action parameter")),
    (2010, "VM_DELETED", _("Deleted successfully")),
    (2011, "VM_DELETE_FAILED", _("Delete failed")),
    (2020, "VM_UPDATED", _("Updated successfully")),
    (2021, "VM_CPU_UPDATE_FAILED", _("CPU update failed")),
    (2022, "VM_MEMORY_UPDATE_FAILED", _("Memory update failed")),
    (2030, "VM_QUERY_OK", _("Query succeeded")),
    (2031, "VM_QUERY_FAILED", _("Query failed")),
    (2040, "VM_POWERED_ON", _("VM powered on")),
    (2041, "VM_POWER_ON_FAILED", _("VM power-on failed")),
    (2042, "VM_POWERED_OFF", _("VM powered off")),
    (2043, "VM_POWER_OFF_FAILED", _("VM power-off failed")),
    (2044, "VM_SUSPENDED", _("VM suspended")),
    (2045, "VM_SUSPEND_FAILED", _("VM suspend failed")),
    (2046, "VM_REBOOTED", _("VM rebooted")),
    (2050, "VM_CLONED", _("Clone succeeded")),
    (2051, "VM_CLONE_NO_DATASTORE_OR_DATACENTER", _("Datastore or datacenter not found")),
    (2052, "VM_CLONE_NO_DATASTORE", _("Datastore not found")),
    (2053, "VM_CLONE_NO_SOURCE", _("VM or template not found")),
    (2054, "VM_CLONE_FAILED", _("Clone operation failed")),
    (2060, "VM_MIGRATED", _("Migration succeeded")),
    (2061, "VM_MIGRATE_NO_DATASTORE_OR_DATACENTER", _("Datastore or datacenter not found")),
    (2062, "VM_MIGRATE_NO_DATASTORE", _("Datastore not found")),
    (2063, "VM_MIGRATE_FAILED", _("Migration operation failed")),
    (2070, "VM_IP_ASSIGNED", _("IP address assigned")),
    (2071, "VM_IP_POWERED_ON", _("Cannot assign an IP address while the VM is powered on")),
    (2072, "VM_IP_VMODL_ERROR", _("vmodl error")),
    (2073, "VM_IP_FAILED", _("IP address assignment failed")),
    # VM disks 2100-2199
    (2100, "DISK_ADDED", _("Added successfully")),
    (2101, "DISK_MISSING_DISKS", _("Missing parameter disks")),
    (2102, "DISK_BAD_PARAMS", _("Invalid parameters")),
    (2103, "DISK_NO_SLOT", _("Cannot create more disks")),
    (2110, "DISK_DELETED", _("Deleted successfully")),
    (2111, "DISK_DELETE_BAD_PARAMS", _("Invalid parameters")),
    (2112, "DISK_NOT_FOUND", _("Disk not found")),
    (2113, "DISK_VM_NOT_FOUND", _("Virtual machine not found")),
    (2130, "DISK_QUERY_OK", _("Fetched successfully")),
    (2131, "DISK_QUERY_BAD_PARAMS", _("Invalid parameters")),
    # VM network adapters 2200-2299
    (2200, "NIC_ADDED", _("Added successfully")),
    (2201, "NIC_BAD_PARAMS", _("Invalid parameters")),
    (2210, "NIC_DELETED", _("Deleted successfully")),
    (2211, "NIC_NOT_FOUND", _("Network adapter not found")),
    (2212, "NIC_DELETE_FAILED", _("Removing the network adapter failed")),
    (2230, "NIC_QUERY_OK", _("Fetched successfully")),
    (2231, "NIC_QUERY_BAD_PARAMS", _("Invalid parameters")),
    # VM snapshots 2300-2399
    (2300, "SNAPSHOT_CREATED", _("Snapshot created")),
    (2301, "SNAPSHOT_MISSING_NAME", _("Create snapshot: missing parameter snapshot_name")),
    (2302, "SNAPSHOT_REVERTED", _("Snapshot reverted")),
    (2303, "SNAPSHOT_MISSING_ID", _("Revert snapshot: missing parameter snapshot_id")),
    (2304, "SNAPSHOT_NOT_FOUND", _("Snapshot not found")),
    (2305, "SNAPSHOT_BAD_ACTION", _("Invalid action parameter")),
    (2310, "SNAPSHOT_DELETED", _("Deleted successfully")),
    (2311, "SNAPSHOT_DELETE_FAILED", _("Delete failed")),
    (2330, "SNAPSHOT_QUERY_OK", _("Fetched successfully")),
    (2331, "SNAPSHOT_QUERY_FAILED", _("Fetch failed")),
    # vCenter data 2400-2499
    (2400, "SYNC_OK", _("Sync succeeded")),
    (2401, "SYNC_FAILED", _("Sync failed")),
    (2430, "TREE_OK", _("Fetched successfully")),
    (2431, "TREE_FAILED", _("Fetch failed")),
    (2440, "DATASTORE_QUERY_OK", _("Fetched successfully")),
    (2441, "DATASTORE_BAD_PARAMS", _("Invalid parameters")),
    (2450, "IMAGE_QUERY_OK", _("Fetched successfully")),
    (2451, "IMAGE_DB_ERROR", _("Database operation failed")),
    (2460, "PORT_GROUP_QUERY_OK", _("Fetched successfully")),
    (2461, "PORT_GROUP_QUERY_FAILED", _("Fetch failed")),
    (2470, "RESOURCE_POOL_QUERY_OK", _("Fetched successfully")),
    (2471, "RESOURCE_POOL_BAD_PARAMS", _("Invalid parameters")),
]
# fmt: on

for _number, _name, _message in _TABLE:
    _define(_number, _name, _message)

SEED_NUMBERS = frozenset(n for n in REGISTRY if n >= 1000)
GENERIC_NUMBERS = frozenset(n for n in REGISTRY if n < 1000)
