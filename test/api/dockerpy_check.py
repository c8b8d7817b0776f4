"""docker-py 7 against berth serve (DOCKER_HOST): run by test/api/dockerpy.test.ts.

Usage: dockerpy_check.py main            system, containers, exec, images (build, tag, remove), networks, volumes
       dockerpy_check.py pull REF        pull REF from a registry (then tag, remove)
Each check asserts on the answer; the last line of stdout is a JSON summary the node test checks again.
"""
import io
import json
import sys
import tempfile
import os

import docker
from docker.errors import APIError, ContainerError, ImageNotFound, NotFound

summary = {}


def check_system(c):
    assert c.ping() is True
    v = c.version()
    assert v["ApiVersion"] == "1.47", v
    assert v["GoVersion"] and v["Version"] and v["Os"] == "linux", v
    info = c.info()
    for k in ("Containers", "Images", "Debug", "OSType", "NCPU"):
        assert k in info, k
    assert info["Images"] >= 1 and info["Swarm"]["LocalNodeState"] == "inactive", info
    df = c.df()
    for k in ("LayersSize", "Images", "Containers", "Volumes"):
        assert k in df, (k, df)
    assert any("busybox:latest" in (i.get("RepoTags") or []) for i in df["Images"]), df["Images"]
    summary["system"] = {"api": v["ApiVersion"], "images": info["Images"], "df_keys": sorted(k for k in df if k in ("LayersSize", "Images", "Containers", "Volumes"))}


def check_containers(c):
    out = c.containers.run("busybox", ["sh", "-c", "echo hello; echo to-err >&2"], remove=True)
    assert out == b"hello\n", out
    try:
        c.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
        raise AssertionError("a failing run raised nothing")
    except ContainerError as e:
        assert e.exit_status == 3, e.exit_status
        assert b"bad" in (e.stderr or b""), e.stderr
    ct = c.containers.run("busybox", ["sh", "-c", "echo started; sleep 60"], detach=True, name="py1", labels={"suite": "py"},
                          environment={"GREETING": "hi"})
    ct.reload()
    assert ct.status == "running", ct.status
    assert ct.name == "py1" and ct.labels == {"suite": "py"}, (ct.name, ct.labels)
    assert ct.attrs["Config"]["Cmd"] == ["sh", "-c", "echo started; sleep 60"], ct.attrs["Config"]["Cmd"]
    assert "GREETING=hi" in ct.attrs["Config"]["Env"], ct.attrs["Config"]["Env"]
    assert [x.name for x in c.containers.list(filters={"label": "suite=py"})] == ["py1"]
    code, output = ct.exec_run(["sh", "-c", 'echo "$GREETING $X"; exit 4'], environment={"X": "there"})
    assert code == 4 and output == b"hi there\n", (code, output)
    code, output = ct.exec_run("pwd", workdir="/tmp")
    assert code == 0 and output == b"/tmp\n", (code, output)
    code, (o, e) = ct.exec_run(["sh", "-c", "echo O; echo E >&2"], demux=True)
    assert (code, o, e) == (0, b"O\n", b"E\n"), (code, o, e)
    logs = ct.logs()
    assert logs == b"started\n", logs
    ct.stop(timeout=1)
    w = ct.wait()
    assert w["StatusCode"] in (137, 143), w
    ct.reload()
    assert ct.status == "exited", ct.status
    ct.remove()
    try:
        c.containers.get("py1")
        raise AssertionError("removed container still found")
    except NotFound:
        pass
    created = c.containers.create("busybox", "true")
    assert created.status == "created", created.status
    created.start()
    assert created.wait(timeout=30)["StatusCode"] == 0
    created.remove(v=True)
    summary["containers"] = {"exec_code": 4, "stop_wait": w["StatusCode"]}


def check_images(c):
    df = b"FROM busybox\nRUN echo built-by-py > /py.txt\nLABEL by=docker-py\nCMD [\"cat\", \"/py.txt\"]\n"
    img, logs = c.images.build(fileobj=io.BytesIO(df), tag="pybuilt:1", rm=True)
    text = "".join(x.get("stream", "") for x in logs)
    assert "Successfully tagged pybuilt:1" in text, text
    assert img.labels.get("by") == "docker-py", img.labels
    assert "pybuilt:1" in img.tags, img.tags
    out = c.containers.run("pybuilt:1", remove=True)
    assert out == b"built-by-py\n", out
    # a build context directory with a file and a build arg
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "Dockerfile"), "w") as f:
            f.write("FROM busybox\nARG WHAT=nothing\nCOPY data.txt /data.txt\nRUN echo \"$WHAT\" >> /data.txt\n")
        with open(os.path.join(d, "data.txt"), "w") as f:
            f.write("from the context\n")
        img2, _ = c.images.build(path=d, tag="pybuilt:2", buildargs={"WHAT": "an arg"})
    out = c.containers.run("pybuilt:2", ["cat", "/data.txt"], remove=True)
    assert out == b"from the context\nan arg\n", out
    try:
        c.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 2\n"), tag="pybad:1")
        raise AssertionError("a failing build raised nothing")
    except docker.errors.BuildError as e:
        assert "returned a non-zero code: 2" in str(e), str(e)
    assert img.tag("pyrepo/retagged", "v1") is True
    assert "pyrepo/retagged:v1" in c.images.get("pybuilt:1").tags
    assert any("pyrepo/retagged:v1" in i.tags for i in c.images.list())
    hist = img.history()
    assert len(hist) >= 2 and all("Id" in h and "CreatedBy" in h for h in hist), hist
    c.images.remove("pyrepo/retagged:v1")
    assert "pyrepo/retagged:v1" not in c.images.get("pybuilt:1").tags
    c.images.remove("pybuilt:2")
    try:
        c.images.get("pybuilt:2")
        raise AssertionError("removed image still found")
    except ImageNotFound:
        pass
    summary["images"] = {"built": img.id, "tags": sorted(c.images.get("pybuilt:1").tags)}


def check_networks(c):
    net = c.networks.create("py-net", driver="bridge", labels={"suite": "py"},
                            ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.77.0.0/24", gateway="10.77.0.1")]))
    net.reload()
    assert net.name == "py-net" and net.attrs["Driver"] == "bridge", net.attrs
    assert net.attrs["Labels"] == {"suite": "py"}, net.attrs["Labels"]
    assert net.attrs["IPAM"]["Config"][0]["Subnet"] == "10.77.0.0/24", net.attrs["IPAM"]
    assert "py-net" in [n.name for n in c.networks.list()]
    try:
        c.networks.create("py-net")
        raise AssertionError("a duplicate network name was accepted")
    except APIError:
        pass
    ct = c.containers.run("busybox", ["sleep", "60"], detach=True, network="py-net", name="pynet1")
    ct.reload()
    ip = ct.attrs["NetworkSettings"]["Networks"]["py-net"]["IPAddress"]
    assert ip.startswith("10.77.0."), ip
    out = c.containers.run("busybox", ["sh", "-c", "ping -c1 -W2 pynet1 >/dev/null && echo reached"], network="py-net", remove=True)
    assert out == b"reached\n", out
    other = c.networks.create("py-net2")
    other.connect(ct, aliases=["extra-name"])
    ct.reload()
    assert set(ct.attrs["NetworkSettings"]["Networks"]) == {"py-net", "py-net2"}, ct.attrs["NetworkSettings"]["Networks"].keys()
    assert "extra-name" in (ct.attrs["NetworkSettings"]["Networks"]["py-net2"]["Aliases"] or []), ct.attrs["NetworkSettings"]["Networks"]["py-net2"]
    other.disconnect(ct)
    ct.reload()
    assert set(ct.attrs["NetworkSettings"]["Networks"]) == {"py-net"}
    ct.remove(force=True)
    other.remove()
    net.remove()
    assert "py-net" not in [n.name for n in c.networks.list()]
    summary["networks"] = {"ip": ip}


def check_volumes(c):
    vol = c.volumes.create("pyvol", labels={"suite": "py"})
    assert vol.name == "pyvol" and vol.attrs["Driver"] == "local" and vol.attrs["Mountpoint"], vol.attrs
    assert vol.attrs["Labels"] == {"suite": "py"}, vol.attrs["Labels"]
    c.containers.run("busybox", ["sh", "-c", "echo kept > /data/f"], volumes={"pyvol": {"bind": "/data", "mode": "rw"}}, remove=True)
    out = c.containers.run("busybox", ["cat", "/data/f"], volumes={"pyvol": {"bind": "/data", "mode": "ro"}}, remove=True)
    assert out == b"kept\n", out
    assert "pyvol" in [v.name for v in c.volumes.list()]
    assert c.volumes.get("pyvol").attrs["Mountpoint"] == vol.attrs["Mountpoint"]
    vol.remove()
    try:
        c.volumes.get("pyvol")
        raise AssertionError("removed volume still found")
    except NotFound:
        pass
    summary["volumes"] = {"mountpoint": vol.attrs["Mountpoint"]}


def check_pull(c, ref):
    img = c.images.pull(ref)
    assert ref in img.tags, img.tags
    repo, tag = ref.rsplit(":", 1)
    assert c.api.inspect_image(ref)["Id"] == img.id
    try:
        c.images.pull(repo.rsplit("/", 1)[0] + "/nosuch", tag="1")
        raise AssertionError("pulling a missing repository raised nothing")
    except (NotFound, ImageNotFound, APIError) as e:
        assert e.status_code == 404, e.status_code
    c.images.remove(ref)
    summary["pull"] = {"id": img.id}


def main():
    section = sys.argv[1]
    auto = docker.from_env(version="auto", timeout=120)
    assert auto.api.api_version == "1.47", auto.api.api_version
    if section == "main":
        dflt = docker.from_env(timeout=120)  # docker-py's default pinned version
        assert dflt.ping() is True and dflt.version()["ApiVersion"] == "1.47"
        check_system(auto)
        check_containers(auto)
        check_images(auto)
        check_networks(auto)
        check_volumes(auto)
    elif section == "pull":
        check_pull(auto, sys.argv[2])
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
