"""The drill's application: writes records (lab/drill_data.py) to every image through librbd.

A process of its own, so that an unplanned drill can kill it with the site, as a power cut would:
a client left alive would reconnect to the restored site and still hold its images' exclusive
locks while cephdr fails back. The drill reads its acknowledgements on stdout, one JSON line each:

    {"ev": "ready"}                                   connected, images open
    {"ev": "ack", "i": 3, "k": 41, "t": 1732.5}       image 3 acknowledged record 41, issued at t
    {"ev": "stop", "i": 3, "error": "..."}            image 3 refused a write (read-only after a demote)
    {"ev": "done"}                                    every image stopped, or stdin closed

Round k issues record k to every image still writing, at once (aio), and waits for all of them
with a deadline, so one stuck image costs one deadline, not one per image. It stops when stdin
closes, or when no image accepts writes any more. It leaves with os._exit: closing an image with a
write stuck on a dead cluster can block for the librados timeout, and there is nothing to flush
(rbd_cache is off, so an acknowledged write is on the OSDs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

from lab import drill_data

_out_lock = threading.Lock()


def emit(**ev: Any) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(ev) + "\n")
        sys.stdout.flush()


def _watch_stdin(stop: threading.Event) -> None:
    sys.stdin.read()
    stop.set()


def _connect(conf: str, keyring: str, op_timeout: float) -> Any:
    import rados

    t = str(int(op_timeout))
    c = rados.Rados(
        conffile=conf,
        conf={
            "keyring": keyring,
            "rados_mon_op_timeout": t,
            "rados_osd_op_timeout": t,
            "client_mount_timeout": t,
            "rbd_cache": "false",  # an acknowledged write is on the OSDs, not in this process
        },
    )
    c.connect(timeout=op_timeout)
    return c


def _round(images: dict[int, Any], k: int, run_id: bytes, deadline: float) -> dict[int, str]:
    """Record k to every image at once; the images that failed, with why."""
    t = time.time()
    results: dict[int, int] = {}
    submit_errors: dict[int, str] = {}
    done = {i: threading.Event() for i in images}

    def on_complete(i: int) -> Any:
        def cb(comp: Any) -> None:
            results[i] = comp.get_return_value()
            done[i].set()

        return cb

    for i, img in images.items():
        try:
            img.aio_write(drill_data.encode(run_id, i, k, t), k * drill_data.BLOCK, on_complete(i))
        except Exception as exc:
            submit_errors[i] = f"submit: {exc}"
            done[i].set()
    failed: dict[int, str] = {}
    for i in images:
        if i in submit_errors:
            failed[i] = submit_errors[i]
        elif not done[i].wait(max(0.0, deadline - time.monotonic())):
            failed[i] = "no answer before the deadline"
        elif results[i] < 0:
            failed[i] = f"{os.strerror(-results[i])} ({results[i]})"
        else:
            emit(ev="ack", i=i, k=k, t=t)
    return failed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.drill_writer")
    p.add_argument("--conf", required=True)
    p.add_argument("--keyring", required=True)
    p.add_argument("--pool", required=True)
    p.add_argument("--images", required=True, help="comma-separated; image i is the i-th")
    p.add_argument("--run-id", required=True, help=f"{drill_data.RUN_ID_LEN} bytes, hex")
    p.add_argument("--period", type=float, default=0.1, help="seconds between rounds")
    p.add_argument("--max-records", type=int, required=True, help="the record area of each image")
    p.add_argument("--op-timeout", type=float, default=10.0)
    a = p.parse_args(argv)
    import rbd

    run_id = bytes.fromhex(a.run_id)
    stop = threading.Event()
    threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
    cluster = _connect(a.conf, a.keyring, a.op_timeout)
    ioctx = cluster.open_ioctx(a.pool)
    images = {i: rbd.Image(ioctx, name) for i, name in enumerate(a.images.split(","))}
    emit(ev="ready")
    start = time.monotonic()
    k = 0
    while images and not stop.is_set() and k < a.max_records:
        # paced, so the drill measures the mirroring and not a saturated 2-CPU lab
        if stop.wait(max(0.0, start + k * a.period - time.monotonic())):
            break
        for i, why in _round(images, k, run_id, time.monotonic() + a.op_timeout).items():
            emit(ev="stop", i=i, error=why)
            del images[i]
        k += 1
    for i in images:
        emit(ev="stop", i=i, error="stopped" if k < a.max_records else "record area full")
    emit(ev="done")
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
