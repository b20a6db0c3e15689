"""ceph.conf and nats.conf rendering for the lab (pure)."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from lab import conf, nats, ports


def render(objectstore: str = "bluestore", lab_dir: str = "/tmp/x") -> configparser.ConfigParser:
    paths = conf.site_paths(Path(lab_dir), "site-b")
    text = conf.render_ceph_conf(paths, "fsid-1", ports.site_ports(20000, 1), objectstore)
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(text)
    return cp


def test_global_settings_from_the_proven_recipe() -> None:
    g = render()["global"]
    assert g["fsid"] == "fsid-1"
    assert g["mon_host"] == "[v2:127.0.0.1:20100,v1:127.0.0.1:20101]"
    assert (g["ms_bind_port_min"], g["ms_bind_port_max"]) == ("20110", "20199")
    assert g["public_addr"] == "127.0.0.1"
    assert g["osd_objectstore"] == "bluestore"
    assert g["osd_pool_default_size"] == "1"
    assert g["auth_allow_insecure_global_id_reclaim"] == "false"
    # the mon splits "snap_schedule" on "_": only mirroring may be initial, snap_schedule is enabled later
    assert g["mgr_initial_modules"] == "mirroring"
    disabled = g["mgr_disabled_modules"].split()
    assert "prometheus" in disabled
    assert not {"balancer", "devicehealth", "telemetry", "pg_autoscaler"} & set(disabled)  # always-on
    assert g["rbd_mirror_pool_replayers_refresh_interval"] == "5"
    assert g["mds_reconnect_timeout"] == "5"
    assert g["cephfs_mirror_retry_failed_directories_interval"] == "5"
    assert g["cephfs_mirror_directory_scan_interval"] == "2"
    assert g["osd_fast_shutdown"] == "false"


def test_daemon_sections_point_into_the_site() -> None:
    cp = render()
    for kind in ("mon", "mgr", "osd", "mds"):
        assert cp[kind][f"{kind}_data"] == "/tmp/x/site-b/data/$name"
        assert cp[kind]["pid_file"].endswith("/site-b/$name.pid")


def test_run_dir_is_short_whatever_the_lab_dir() -> None:
    long_dir = "/tmp/" + "d" * 150
    g = render(lab_dir=long_dir)["global"]
    run_dir = g["run_dir"]
    assert not run_dir.startswith(long_dir)
    # room for rbd-mirror's client.rbd-mirror-peer.<pid>.site-a.<ptr>.asok under the 107-byte limit
    assert len(run_dir) + len("/client.rbd-mirror-peer.4194304.site-a.94000000000000.asok") < 107
    assert conf.short_run_root(Path(long_dir)) == conf.short_run_root(Path(long_dir))
    assert conf.short_run_root(Path("/tmp/a")) != conf.short_run_root(Path("/tmp/b"))


def test_memstore_option_and_bad_objectstore() -> None:
    assert render("memstore")["global"]["osd_objectstore"] == "memstore"
    with pytest.raises(ValueError):
        render("filestore")


def test_nats_config_loopback_jetstream_random_port() -> None:
    text = nats.render_config(nats.NatsPaths(Path("/tmp/lab/nats")))
    assert "listen: 127.0.0.1:-1" in text
    assert "http: 127.0.0.1:-1" in text
    assert "server_name: cephdr-lab" in text
    assert 'store_dir: "/tmp/lab/nats/js"' in text
    assert "max_memory_store: 256MB" in text and "max_file_store: 2GB" in text
    assert 'ports_file_dir: "/tmp/lab/nats"' in text
