"""Domain errors for vCenter failures; messages name host and user, never a password."""

from pyVmomi import vim, vmodl


class VCenterError(Exception):
    """A vCenter operation failed; `fault` is the vim fault's type name when there was one."""

    def __init__(self, message, fault=None):
        super().__init__(message)
        self.fault = fault


class VCenterUnreachable(VCenterError):
    """The endpoint could not be reached (refused, reset, DNS, TLS) or stopped answering."""


class VCenterTimeout(VCenterUnreachable):
    """The endpoint or a task did not answer within its deadline."""


class VCenterAuthError(VCenterError):
    """vCenter refused the stored credentials."""


class VCenterNotFound(VCenterError):
    """A managed object id no longer names an object in vCenter."""


class VCenterFault(VCenterError):
    """vCenter answered with a fault for the operation (bad state, bad spec, duplicate name...)."""


def fault_message(fault):
    """A readable one-line reason from a vim/vmodl fault or any exception."""
    message = getattr(fault, "msg", None) or ""
    if not message:
        for item in getattr(fault, "faultMessage", None) or []:
            message = getattr(item, "message", "") or message
    return message or type(fault).__name__


def from_fault(fault):
    """Turn a pyVmomi fault raised by a call or carried by a task into a domain error."""
    if isinstance(fault, VCenterError):
        return fault
    name = type(fault).__name__
    message = fault_message(fault)
    if isinstance(
        fault, vim.fault.InvalidLogin | vim.fault.NotAuthenticated | vim.fault.NoPermission
    ):
        return VCenterAuthError(message, fault=name)
    if isinstance(fault, vmodl.fault.ManagedObjectNotFound):
        return VCenterNotFound(message, fault=name)
    if isinstance(fault, vmodl.MethodFault):
        return VCenterFault(message, fault=name)
    return VCenterError(message, fault=name)


def describe_fault(fault):
    """A readable reason from a vim/vmodl fault, with the fields that say what was refused.

    vcsim leaves `msg` as the fault's Go type (`*types.InvalidArgument`); the fault's type name
    and its `invalidProperty`, `file` or `deviceIndex` then carry the reason instead.
    """
    name = type(fault).__name__.rsplit(".", 1)[-1]
    message = fault_message(fault)
    if message.startswith("*types.") or message == type(fault).__name__:
        message = ""
    details = []
    for attribute in ("invalidProperty", "file", "deviceIndex", "existingState", "name"):
        value = getattr(fault, attribute, None)
        if value not in (None, ""):
            details.append(f"{attribute}={value}")
    reason = f"{name}: {message}" if message else name
    return f"{reason} ({', '.join(details)})" if details else reason


class VCenterTaskFault(VCenterFault):
    """A vCenter task ended with a fault; `vim_fault` keeps the fault for callers to inspect."""

    def __init__(self, message, fault=None, vim_fault=None):
        super().__init__(message, fault=fault)
        self.vim_fault = vim_fault
