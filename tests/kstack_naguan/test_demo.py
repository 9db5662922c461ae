"""`manage.py demo`, the README's first command after its set-up: it serves the portal on a
synced simulator, and a SIGTERM stops the portal and the simulator alike."""

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from .processes import REPO, project_env


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepts(port):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _post_json(url, body):
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_demo_serves_the_synced_simulator_and_stops_it_on_sigterm(tmp_path):
    port = _free_port()
    env = project_env(
        tmp_path,
        KSTACK_ADMIN_PASSWORD="Demo-Admin-Pass-77",
        DJANGO_MEDIA_ROOT=str(tmp_path / "media"),
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
    )
    env.pop("CELERY_BROKER_URL", None)  # the demo runs tasks in-process
    env.pop("REDIS_URL", None)
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        # Up to its "Portal:" line: migrated, the simulator started and synced.
        lines = []
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("Portal:"):
                break
        output = "".join(lines)
        assert "sync: success (2400)" in output, output
        sim_port = int(re.search(r"Simulator at https?://127\.0\.0\.1:(\d+)/", output)[1])
        deadline = time.monotonic() + 30
        while not _accepts(port) and time.monotonic() < deadline:
            time.sleep(0.2)

        login = _post_json(
            f"http://127.0.0.1:{port}/api/auth/login",
            {"username": "admin", "password": "Demo-Admin-Pass-77"},
        )
        assert login["code"] == 1000
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/vcenter/vms",
            headers={"Authorization": f"Bearer {login['data']['access']}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            vms = json.load(response)
        assert vms["code"] == 2030
        assert vms["data"]["count"] > 0

        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/static/admin/css/base.css", timeout=30
        ) as response:
            assert response.status == 200  # the admin is styled

        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 0
        assert not _accepts(port)
        assert not _accepts(sim_port), "the simulator outlived the demo"
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
