"""Sessions with a vCenter endpoint: connect, reuse, log in again, and map transport failures.

One `VCenterClient` per endpoint and process is kept in a small pool, so API requests and tasks
in one process share a session instead of logging in per call. `call` runs a function against
the session's content and, when vCenter has forgotten the session (`NotAuthenticated`) or the
connection broke (vCenter restarted), connects again and retries once.
"""

import atexit
import hashlib
import http.client
import logging
import socket
import ssl
import threading

from django.conf import settings
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from .errors import VCenterAuthError, VCenterTimeout, VCenterUnreachable, from_fault

logger = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (
    OSError,  # refused, reset, unreachable, DNS, socket timeouts, TLS errors
    http.client.HTTPException,
)


def _transport_error(exc, client):
    where = f"{client.host}:{client.port}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return VCenterTimeout(f"vCenter {where} did not answer in {client.timeout}s")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return VCenterUnreachable(
            f"vCenter {where} presented a certificate that could not be verified; switch TLS "
            "verification off for this platform only if it uses a self-signed certificate"
        )
    return VCenterUnreachable(f"vCenter {where} is unreachable: {type(exc).__name__}: {exc}")


class VCenterClient:
    """A session with one vCenter endpoint; the password is held only to log in again."""

    def __init__(
        self,
        host,
        port=443,
        username="",
        password="",
        protocol="https",
        verify_tls=True,
        timeout=None,
    ):
        self.host = host
        self.port = int(port)
        self.username = username
        self._password = password
        self.protocol = protocol
        self.verify_tls = verify_tls
        self.timeout = timeout or settings.KSTACK_VCENTER_TIMEOUT
        self._si = None
        self._content = None
        self._lock = threading.RLock()

    def __repr__(self):
        return f"<VCenterClient {self.username}@{self.host}:{self.port}>"

    # Session life

    def connect(self):
        """Log in and return the service instance, raising a domain error on failure."""
        with self._lock:
            if self._si is not None:
                return self._si
            kwargs = {
                "host": self.host,
                "port": self.port,
                "user": self.username,
                "pwd": self._password,
                "protocol": self.protocol,
                "httpConnectionTimeout": self.timeout,
            }
            if self.protocol == "https" and not self.verify_tls:
                kwargs["disableSslCertValidation"] = True
            try:
                self._si = SmartConnect(**kwargs)
                self._content = self._si.RetrieveContent()
            except vim.fault.InvalidLogin:
                logger.warning("vCenter %s refused login for %s", self.host, self.username)
                raise VCenterAuthError(
                    f"vCenter {self.host} refused the login of user {self.username!r}",
                    fault="InvalidLogin",
                ) from None
            except vmodl.MethodFault as exc:
                self._si = None
                cause = exc.__context__
                if isinstance(exc, vim.fault.HostConnectFault) and isinstance(
                    cause, _TRANSPORT_ERRORS
                ):
                    # SmartConnect wraps a transport failure (a timeout) of its first call.
                    raise _transport_error(cause, self) from None
                raise from_fault(exc) from None
            except _TRANSPORT_ERRORS as exc:
                self._si = None
                raise _transport_error(exc, self) from None
            except Exception as exc:  # pyVmomi's own bare Exception: "... is not a VIM server"
                self._si = None
                logger.warning("%s:%s is no vCenter: %s", self.host, self.port, exc)
                raise VCenterUnreachable(
                    f"{self.host}:{self.port} did not answer as a vCenter: {exc}"
                ) from None
            logger.info("vCenter session opened: %s@%s:%s", self.username, self.host, self.port)
            return self._si

    def close(self):
        """Log out, ignoring a vCenter that is already gone."""
        with self._lock:
            si, self._si, self._content = self._si, None, None
        if si is not None:
            try:
                Disconnect(si)
            except Exception:  # logging out of a dead endpoint must not raise
                logger.debug("logout from %s failed", self.host, exc_info=True)

    @property
    def content(self):
        """The `ServiceContent` of the current session, connecting first if needed."""
        with self._lock:
            self.connect()
            return self._content

    def call(self, fn, *args, **kwargs):
        """Run `fn(content, *args, **kwargs)`, logging in again once if the session was lost.

        vim and vmodl faults come out as domain errors from `errors`, transport failures as
        `VCenterUnreachable`/`VCenterTimeout`.
        """
        for attempt in (1, 2):
            try:
                return fn(self.content, *args, **kwargs)
            except vim.fault.NotAuthenticated:
                if attempt == 2:
                    raise VCenterAuthError(
                        f"vCenter {self.host} keeps rejecting the session"
                    ) from None
                logger.info("vCenter %s dropped the session; logging in again", self.host)
            except (
                ConnectionError,
                http.client.RemoteDisconnected,
                http.client.BadStatusLine,
            ) as exc:
                if attempt == 2:
                    raise _transport_error(exc, self) from None
                logger.info("connection to vCenter %s broke; reconnecting", self.host)
            except vmodl.MethodFault as exc:
                raise from_fault(exc) from None
            except _TRANSPORT_ERRORS as exc:
                raise _transport_error(exc, self) from None
            self._forget()
        raise AssertionError("unreachable")  # pragma: no cover

    def _forget(self):
        # A fresh session on the next call; the old one is dead or unusable.
        with self._lock:
            self._si = self._content = None

    # Small reads used everywhere

    def about(self):
        """The endpoint's product name, version, build and API type."""

        def read(content):
            about = content.about
            return {
                "name": about.fullName,
                "version": about.version,
                "build": about.build,
                "api_type": about.apiType,
                "instance_uuid": about.instanceUuid,
            }

        return self.call(read)

    def ref(self, vim_type, moid):
        """A managed object reference of `vim_type` (e.g. `vim.VirtualMachine`) for `moid`."""
        return vim_type(moid, self.connect()._stub)


# The per-process pool of clients, keyed by endpoint and credentials.
_pool = {}
_pool_lock = threading.Lock()


def _pool_key(platform):
    secret = hashlib.sha256(platform.password.encode("utf-8")).hexdigest()[:16]
    return (
        platform.pk,
        platform.host,
        platform.port,
        platform.username,
        platform.protocol,
        platform.verify_tls,
        secret,
    )


def client_for_platform(platform):
    """The pooled client for a `platforms.CloudPlatform`, created on first use."""
    key = _pool_key(platform)
    with _pool_lock:
        client = _pool.get(key)
        if client is None:
            stale = [k for k in _pool if k[0] == platform.pk]
            for old_key in stale:
                _pool.pop(old_key).close()
            client = _pool[key] = VCenterClient(
                platform.host,
                platform.port,
                platform.username,
                platform.password,
                protocol=platform.protocol,
                verify_tls=platform.verify_tls,
            )
        return client


def close_all():
    """Log out every pooled session (worker shutdown, tests)."""
    with _pool_lock:
        clients = list(_pool.values())
        _pool.clear()
    for client in clients:
        client.close()


atexit.register(close_all)
