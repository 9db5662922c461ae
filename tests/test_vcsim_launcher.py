"""The vcsim launcher (tools/vcsim) and its Python helper, against pyvmomi."""

import os
import time

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from kstack_naguan.testing.vcsim import Simulator


def connect(sim, user=None, pwd=None):
    kwargs = {"disableSslCertValidation": True} if sim.protocol == "https" else {}
    return SmartConnect(
        host=sim.host,
        port=sim.port,
        user=sim.username if user is None else user,
        pwd=sim.password if pwd is None else pwd,
        protocol=sim.protocol,
        **kwargs,
    )


def vm_names(si):
    """All VM names through a ContainerView and the PropertyCollector (no attribute walks)."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[
                vmodl.query.PropertyCollector.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[
                        vmodl.query.PropertyCollector.TraversalSpec(
                            type=vim.view.ContainerView, path="view", skip=False
                        )
                    ],
                )
            ],
            propSet=[
                vmodl.query.PropertyCollector.PropertySpec(
                    type=vim.VirtualMachine, pathSet=["name"]
                )
            ],
        )
        collector = content.propertyCollector
        result = collector.RetrievePropertiesEx(
            [spec], vmodl.query.PropertyCollector.RetrieveOptions()
        )
        names = []
        while result is not None:
            names += [obj.propSet[0].val for obj in result.objects]
            if not result.token:
                break
            result = collector.ContinueRetrievePropertiesEx(result.token)
        return names
    finally:
        view.Destroy()


def test_strict_login_and_model_size():
    flags = {"dc": 2, "cluster": 2, "host": 2, "standalone_host": 1, "vm": 3, "app": 1, "pool": 1}
    # vcsim puts `vm` VMs on each standalone host, each cluster's root pool and each vApp;
    # cluster hosts and child resource pools add none.
    expected = (
        flags["dc"]
        * flags["vm"]
        * (flags["standalone_host"] + flags["cluster"] * (1 + flags["app"]))
    )
    with Simulator(username="kstack", password="s3cret", **flags) as sim:
        assert sim.url == f"http://127.0.0.1:{sim.port}/sdk"
        assert sim.protocol == "http"
        assert sim.host == "127.0.0.1"
        assert sim.expected_vm_count == expected == sim.vm_count

        si = connect(sim)
        try:
            assert si.content.about.apiType == "VirtualCenter"
            names = vm_names(si)
            assert len(names) == expected
            assert len(set(names)) == expected
        finally:
            Disconnect(si)

        with pytest.raises(vim.fault.InvalidLogin):
            connect(sim, pwd="wrong")
        with pytest.raises(vim.fault.InvalidLogin):
            connect(sim, user="user", pwd="pass")


def test_default_model_and_cleanup():
    sim = Simulator()
    sim.start()
    try:
        # vcsim's default VPX model: 1 DC, 1 cluster of 3 hosts, 1 standalone host, 2 VMs on
        # the standalone host and 2 in the cluster's root pool.
        assert sim.vm_count == sim.expected_vm_count == 4
        assert sim.datastore_dir is not None
        assert os.path.isdir(sim.datastore_dir)
        assert sim.datastore_dirs == {"DC0/LocalDS_0": sim.datastore_dir}
        if os.path.isdir("/dev/shm"):
            assert sim.datastore_dir.startswith("/dev/shm/")
        si = connect(sim)
        try:
            assert len(vm_names(si)) == 4
        finally:
            Disconnect(si)
    finally:
        sim.stop()
    assert not sim.running
    assert not os.path.exists(sim.datastore_dir)


def test_any_credentials_when_not_strict():
    with Simulator(username=None, password=None, vm=1) as sim:
        si = connect(sim, user="anyone", pwd="anything")
        assert si.content.about.apiType == "VirtualCenter"
        Disconnect(si)
        with pytest.raises(vim.fault.InvalidLogin):
            connect(sim, user="anyone", pwd="")


def test_tls():
    with Simulator(tls=True, vm=1) as sim:
        assert sim.protocol == "https"
        assert sim.url == f"https://127.0.0.1:{sim.port}/sdk"
        si = connect(sim)
        try:
            assert si.content.about.apiType == "VirtualCenter"
        finally:
            Disconnect(si)


def test_restart_keeps_port_and_drops_sessions():
    with Simulator(vm=1) as sim:
        port = sim.port
        si = connect(sim)
        assert si.content.sessionManager.currentSession is not None
        sim.restart()
        assert sim.port == port
        assert sim.running
        # The pooled keep-alive connection died with the old process: the first call usually
        # fails at the socket level, like against a restarted vCenter; then the session is gone.
        with pytest.raises((ConnectionError, vim.fault.NotAuthenticated)):
            si.content.sessionManager.currentSession  # noqa: B018 - the call is the test
        with pytest.raises(vim.fault.NotAuthenticated):
            si.content.sessionManager.currentSession  # noqa: B018 - the call is the test
        si = connect(sim)
        try:
            assert len(vm_names(si)) == sim.expected_vm_count
        finally:
            Disconnect(si)


def test_session_idle_timeout():
    with Simulator(vm=1, session_timeout=0.5) as sim:
        si = connect(sim)
        assert si.content.sessionManager.currentSession is not None
        time.sleep(1.5)
        with pytest.raises(vim.fault.NotAuthenticated):
            si.content.sessionManager.currentSession  # noqa: B018 - the call is the test


def test_start_failure_reports_stderr():
    with pytest.raises(RuntimeError, match="flag provided but not defined"):
        Simulator(extra_args=("-no-such-flag",)).start()


def test_password_stays_off_the_command_line():
    with Simulator(username="user", password="Not-In-Ps-42") as sim:
        with open(f"/proc/{sim._process.pid}/cmdline", "rb") as cmdline:
            assert b"Not-In-Ps-42" not in cmdline.read()
        assert "Not-In-Ps-42" not in " ".join(sim.command("vcsim"))
