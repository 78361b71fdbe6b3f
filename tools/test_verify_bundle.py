#!/usr/bin/env python3
"""Tests of tools/verify-bundle on tests/data/format-example.jsonl and
tampered copies of it, and, end to end against a real `jointly serve`, on
signed checkpoints, receipts and bundles and tampered copies of them.
Run: python3 tools/test_verify_bundle.py
(needs `pip install blake3 cryptography`; the end-to-end tests use the
binary at $JOINTLY_BIN, by default target/release/jointly, and are skipped
when it does not exist)."""

import base64
import hashlib
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
TOOL = os.path.join(HERE, "verify-bundle")
EXAMPLE = os.path.join(HERE, "..", "tests", "data", "format-example.jsonl")
HEAD = "b7884fafa4a31151918eb3313a52aed6d66651a15fde9b90f4043798238908b6"
ROOTS = {
    0: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    1: "kg7Qmmnco2er3srwzyeGJUewrncLi5eEcXTTLAWLNxA=",
    2: "0wkAJLOS+pFd/Aq88cInp4N3GpVchvLM19IlHlJnzMI=",
    3: "lCa+84jwg3kQGlVc6t+JQg19ik3Ipjaml4SOz+GFVSo=",
}


def run(path, *opts):
    p = subprocess.run([sys.executable, TOOL, *opts, path], capture_output=True, text=True)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def run_args(*args):
    p = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def lines():
    with open(EXAMPLE, "rb") as f:
        return f.read().split(b"\n")[:-1]


def edit_line(raw, f):
    """Parses a canonical line, applies f, and writes it back canonically
    (ASCII keys only in the example, so sorted keys are canonical)."""
    v = json.loads(raw)
    f(v)
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class VerifyBundle(unittest.TestCase):
    def write(self, ls, end=b"\n"):
        fd, path = tempfile.mkstemp(suffix=".jsonl")
        with os.fdopen(fd, "wb") as f:
            f.write(b"\n".join(ls) + end)
        self.addCleanup(os.remove, path)
        return path

    def fails_at(self, ls, record, words):
        code, out, _ = run(self.write(ls))
        self.assertEqual(code, 1, out)
        self.assertTrue(out.startswith("verification failed: record %d: " % record), out)
        self.assertIn(words, out)

    def test_example_verifies(self):
        code, out, _ = run(EXAMPLE)
        self.assertEqual(code, 0)
        self.assertEqual(out, "verified 3 records, head %s, root %s" % (HEAD, ROOTS[3]))

    def test_trusted_roots(self):
        for size, root in ROOTS.items():
            self.assertEqual(run(EXAMPLE, "--from", str(size), "--root", root)[0], 0, size)
        self.assertEqual(run(EXAMPLE, "--from", "2", "--root", ROOTS[1])[0], 1)
        self.assertEqual(run(EXAMPLE, "--from", "4", "--root", ROOTS[3])[0], 1)

    def test_changed_payload(self):
        ls = lines()
        ls[2] = ls[2].replace(b"Thursday", b"Friday")
        self.fails_at(ls, 1, "does not match the record's commitment")

    def test_changed_salt(self):
        ls = lines()
        ls[1] = edit_line(ls[1], lambda v: v.__setitem__("salt", "00" + v["salt"][2:]))
        self.fails_at(ls, 0, "does not match the record's commitment")

    def test_swapped_lines(self):
        ls = lines()
        ls[2], ls[3] = ls[3], ls[2]
        self.fails_at(ls, 1, "holds record 2 instead")

    def test_removed_line(self):
        ls = lines()
        del ls[2]
        self.fails_at(ls, 1, "holds record 2 instead")

    def test_removed_last_line(self):
        self.fails_at(lines()[:-1], 2, "missing")

    def test_changed_time(self):
        ls = lines()
        ls[2] = ls[2].replace(b"00:52:07.474404Z", b"00:52:07.480000Z")
        self.fails_at(ls, 1, "record 1 was changed")

    def test_back_dated_time(self):
        ls = lines()
        ls[2] = ls[2].replace(b"00:52:07.474404Z", b"00:52:07.000000Z")
        self.fails_at(ls, 1, "earlier than record 0's")

    def test_changed_last_record(self):
        ls = lines()
        ls[3] = ls[3].replace(b'"actor":"operator:alice"', b'"actor":"operator:bob"')
        self.fails_at(ls, 2, 'differs from the header\'s "head"')

    def test_not_canonical(self):
        ls = lines()
        ls[1] = ls[1].replace(b'"record":', b'"record": ')
        self.fails_at(ls, 0, "not in canonical (RFC 8785) form")

    def test_line_ends(self):
        # Every line ends in LF, the last one too; never CR LF.
        code, out, _ = run(self.write(lines(), end=b""))
        self.assertEqual(code, 1, out)
        self.assertIn("does not end with a newline", out)
        ls = [l + b"\r" for l in lines()]
        code, out, _ = run(self.write(ls))
        self.assertNotEqual(code, 0, out)

    def test_repeated_id(self):
        # An id names one record: the last record carries the first's id
        # (so its hash no longer matches the header's head either, but the
        # repeated id is what is found first).
        ls = lines()
        first = json.loads(ls[1])["record"]["id"]
        ls[3] = edit_line(ls[3], lambda v: v["record"].__setitem__("id", first))
        self.fails_at(ls, 2, "is the id of an earlier record")

    def test_redacted_still_verifies(self):
        ls = lines()
        ls[2] = edit_line(ls[2], lambda v: (v.__setitem__("payload", None), v.__setitem__("salt", None)))
        code, out, _ = run(self.write(ls))
        self.assertEqual(code, 0, out)
        self.assertTrue(out.endswith(", 1 payloads redacted"), out)

    def test_changed_header_root(self):
        ls = lines()
        ls[0] = edit_line(ls[0], lambda v: v.__setitem__("root", ROOTS[2]))
        code, out, _ = run(self.write(ls))
        self.assertEqual(code, 1)
        self.assertIn("Merkle root differs", out)

    def test_unreadable(self):
        self.assertEqual(run(os.path.join(HERE, "no-such-file"))[0], 2)
        self.assertEqual(run(self.write([b'{"hello":1}']))[0], 2)
        self.assertEqual(run(self.write([], end=b""))[0], 2)


# --- end to end: a real server's checkpoints, receipts and bundle ------------

REPO = os.path.abspath(os.path.join(HERE, ".."))
JOINTLY = os.path.abspath(os.environ.get("JOINTLY_BIN") or os.path.join(REPO, "target", "release", "jointly"))
RECORD_HASH_TAG = b"jointly/record/v1\x00"
EM_DASH = "\u2014"


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Written from docs/FORMAT.md for these tests, sharing nothing with the tool.


def mth(leaves):
    """RFC 6962 Merkle tree hash, recursively."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def record_part(line):
    """Splits a canonical bundle line into (before, record bytes, after)."""
    i = line.rindex(b',"record":{') + len(b',"record":')
    j = line.rindex(b',"salt":')
    return line[:i], line[i:j], line[j:]


def canonical_ascii(value):
    # Record fields and bundle headers are ASCII, so sorted keys are canonical.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def rebuild(record_lines, change=None):
    """A bundle that agrees with itself: the record lines, record `change[0]`
    changed by `change[1]` (a function of the parsed record) and every later
    `prev` recomputed, under a header made for them."""
    import blake3

    out, leaves, head = [], [], b"\x00" * 32
    for seq, line in enumerate(record_lines):
        before, rec_bytes, after = record_part(line)
        if change is not None and seq >= change[0]:
            rec = json.loads(rec_bytes)
            if seq == change[0]:
                change[1](rec)
            rec["prev"] = head.hex()
            rec_bytes = canonical_ascii(rec)
        out.append(before + rec_bytes + after)
        leaves.append(hashlib.sha256(b"\x00" + rec_bytes).digest())
        head = blake3.blake3(RECORD_HASH_TAG + rec_bytes).digest()
    header = {"format": "jointly-export", "head": head.hex(), "root": b64(mth(leaves)), "size": len(out), "version": 1}
    return [canonical_ascii(header)] + out


def new_signer(name):
    """A fresh Ed25519 key: (verifier key, function from note text to its
    signature line)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]

    def sign(text, claimed_id=key_id):
        return ("%s %s %s\n" % (EM_DASH, name, b64(claimed_id + private.sign(text)))).encode()

    return "%s+%s+%s" % (name, key_id.hex(), b64(b"\x01" + public)), sign


def split_note(note):
    """(text, signature lines) of a signed note."""
    i = note.rindex(b"\n\n")
    return note[: i + 1], note[i + 2 :]


class SignedCheckpoints(unittest.TestCase):
    """The verifier on a real server's output: a demo log, a checkpoint
    before and after one more append, a receipt for record 3, the export
    bundle and the verifier key."""

    @classmethod
    def setUpClass(cls):
        if not os.access(JOINTLY, os.X_OK):
            raise unittest.SkipTest(
                "no jointly binary at %s: build it (cargo build --release) or set JOINTLY_BIN" % JOINTLY
            )
        cls.tmp = tempfile.mkdtemp(prefix="verify-bundle-test-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.env = dict(os.environ, JOINTLY_DATA=os.path.join(cls.tmp, "data"))
        cls.jointly("demo")
        token = cls.jointly("token", "create", "--role", "staff", "--name", "verifier-test").splitlines()[-1].strip()

        port = free_port()
        base = "http://127.0.0.1:%d" % port
        log = open(os.path.join(cls.tmp, "serve.log"), "wb")
        cls.addClassCleanup(log.close)
        server = subprocess.Popen(
            [JOINTLY, "serve", "--listen", "127.0.0.1:%d" % port], env=cls.env, stdout=log, stderr=log
        )
        cls.addClassCleanup(cls.stop, server)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def get(path):
            with opener.open(base + path, timeout=10) as r:
                return r.read()

        def wait_for(what, ready):
            deadline = time.monotonic() + 30
            while True:
                if server.poll() is not None:
                    raise AssertionError(
                        "jointly serve exited (%s) while waiting for %s: %s"
                        % (server.returncode, what, cls.serve_log())
                    )
                try:
                    value = ready()
                    if value is not None:
                        return value
                except (OSError, urllib.error.URLError):
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("timed out waiting for %s: %s" % (what, cls.serve_log()))
                time.sleep(0.1)

        wait_for("/healthz", lambda: get("/healthz") or None)
        cls.checkpoint_before = wait_for("a checkpoint", lambda: get("/v1/checkpoint"))
        # One more append, so that a newer checkpoint is signed, and the
        # bundle holds more records than the first checkpoint.
        request = urllib.request.Request(
            base + "/v1/events",
            data=json.dumps({"type": "x.verifier.test", "payload": {"note": "checkpoint test"}}).encode(),
            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
            method="POST",
        )
        with opener.open(request, timeout=10) as r:
            assert r.status == 201, r.status
            seq = json.loads(r.read())["seq"]
        cls.checkpoint_after = wait_for(
            "the checkpoint of %d records" % (seq + 1),
            lambda: (lambda cp: cp if cp.split(b"\n")[1] == str(seq + 1).encode() else None)(get("/v1/checkpoint")),
        )
        cls.receipt = get("/v1/events/3/receipt")
        cls.stop(server)

        cls.bundle = os.path.join(cls.tmp, "bundle.jsonl")
        cls.jointly("export", "--out", cls.bundle)
        cls.key = cls.jointly("checkpoint", "key").splitlines()[-1].strip()
        with open(cls.bundle, "rb") as f:
            cls.bundle_lines = f.read().split(b"\n")[:-1]

    @classmethod
    def jointly(cls, *args):
        p = subprocess.run([JOINTLY, *args], env=cls.env, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError("jointly %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
        return p.stdout

    @classmethod
    def stop(cls, server):
        if server.poll() is None:
            server.send_signal(signal.SIGINT)  # Ctrl-C: finishes and flushes
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
                raise AssertionError("jointly serve did not stop on SIGINT: %s" % cls.serve_log())

    @classmethod
    def serve_log(cls):
        with open(os.path.join(cls.tmp, "serve.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def file(self, data, suffix=""):
        fd, path = tempfile.mkstemp(suffix=suffix, dir=self.tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path

    def bundle_of(self, lines):
        return self.file(b"\n".join(lines) + b"\n", ".jsonl")

    def verify(self, *args, key=None):
        return run_args("--key", key or self.key, *args)

    def fails(self, args, words, key=None):
        code, out, err = self.verify(*args, key=key)
        self.assertEqual(code, 1, (out, err))
        self.assertTrue(out.startswith("verification failed: "), out)
        self.assertIn(words, out)
        return out

    @staticmethod
    def size_and_root(checkpoint):
        lines = checkpoint.split(b"\n")
        return int(lines[1]), lines[2].decode()

    # -- what the server gave passes --

    def test_server_output_has_the_documented_form(self):
        for cp in (self.checkpoint_before, self.checkpoint_after):
            text, sigs = split_note(cp)
            self.assertEqual(len(text.split(b"\n")), 4, cp)  # origin, size, root, and the final LF
            self.assertTrue(sigs.startswith(("%s %s " % (EM_DASH, self.key.split("+", 2)[0])).encode()), cp)
        self.assertTrue(self.receipt.startswith(b"c2sp.org/tlog-proof@v1\nextra "), self.receipt)
        self.assertIn(b"\nindex 3\n", self.receipt)
        self.assertTrue(self.receipt.endswith(b"\n\n" + self.checkpoint_after), self.receipt)

    def test_checkpoint_and_receipt_verify(self):
        size, root = self.size_and_root(self.checkpoint_after)
        header = json.loads(self.bundle_lines[0])
        self.assertEqual((header["size"], header["root"]), (size, root))
        cp, receipt = self.file(self.checkpoint_after), self.file(self.receipt)
        code, out, err = self.verify("--checkpoint", cp, "--receipt", receipt, self.bundle)
        self.assertEqual(code, 0, (out, err))
        lines = out.split("\n")
        self.assertEqual(lines[0], "verified %d records, head %s, root %s" % (size, header["head"], root))
        label = "+".join(self.key.split("+", 2)[:2])
        self.assertIn("checkpoint %s: signed by %s, %d records, root %s" % (cp, label, size, root), lines[1])
        self.assertIn("receipt %s: record 3 is in the log of %d records" % (receipt, size), lines[2])
        self.assertIn("the bundle holds the same record 3", lines[2])

    def test_bundle_longer_than_checkpoint(self):
        size, root = self.size_and_root(self.checkpoint_before)
        self.assertLess(size, len(self.bundle_lines) - 1)
        code, out, err = self.verify("--checkpoint", self.file(self.checkpoint_before), self.bundle)
        self.assertEqual(code, 0, (out, err))
        self.assertIn("the bundle's first %d records have this root" % size, out)

    def test_receipt_alone(self):
        code, out, err = self.verify("--receipt", self.file(self.receipt))
        self.assertEqual(code, 0, (out, err))
        self.assertIn("record 3 is in the log", out)

    def test_checkpoint_alone(self):
        code, out, err = self.verify("--checkpoint", self.file(self.checkpoint_after))
        self.assertEqual(code, 0, (out, err))

    def test_other_signatures_are_ignored(self):
        # A witness cosignature (another name and key) and a line by the same
        # name with another key are skipped; the log's own still counts.
        _, witness = new_signer("witness.example/w1")
        _, impostor = new_signer(self.key.split("+", 2)[0])
        text, sigs = split_note(self.checkpoint_after)
        cp = self.file(text + b"\n" + witness(text) + sigs + impostor(text))
        code, out, err = self.verify("--checkpoint", cp, self.bundle)
        self.assertEqual(code, 0, (out, err))

    def test_extension_lines_and_own_key(self):
        # A checkpoint signed here, with an extension line, for the bundle's
        # root: checks the key id, signature and body rules independently of
        # the server's key.
        key, sign = new_signer("example.org/log")
        header = json.loads(self.bundle_lines[0])
        text = ("example.org/log\n%d\n%s\nsome extension\n" % (header["size"], header["root"])).encode()
        code, out, err = run_args("--key", key, "--checkpoint", self.file(text + b"\n" + sign(text)), self.bundle)
        self.assertEqual(code, 0, (out, err))
        # The origin must be the key's name.
        key, sign = new_signer("example.org/other")
        other = self.file(text + b"\n" + sign(text))
        self.fails(["--checkpoint", other, self.bundle], "is not the name of the verifier key", key)

    # -- tampered checkpoints --

    def test_changed_checkpoint_root(self):
        _, other_root = self.size_and_root(self.checkpoint_before)
        _, root = self.size_and_root(self.checkpoint_after)
        cp = self.checkpoint_after.replace(root.encode(), other_root.encode())
        out = self.fails(["--checkpoint", self.file(cp), self.bundle], "does not verify")
        self.assertIn("verification failed: checkpoint ", out)

    def test_changed_checkpoint_size(self):
        size, _ = self.size_and_root(self.checkpoint_after)
        cp = self.checkpoint_after.replace(b"\n%d\n" % size, b"\n%d\n" % (size - 1), 1)
        self.assertNotEqual(cp, self.checkpoint_after)
        self.fails(["--checkpoint", self.file(cp), self.bundle], "does not verify")

    def test_replaced_signature(self):
        # Signed with another Ed25519 key under the same name: its key id differs.
        _, sign = new_signer(self.key.split("+", 2)[0])
        text, _ = split_note(self.checkpoint_after)
        self.fails(["--checkpoint", self.file(text + b"\n" + sign(text)), self.bundle], "is not signed by")
        # The same, but claiming the log's key id.
        real_id = bytes.fromhex(self.key.split("+", 2)[1])
        cp = self.file(text + b"\n" + sign(text, real_id))
        out = self.fails(["--checkpoint", cp, self.bundle], "does not verify")
        self.assertIn("(line 5)", out)

    def test_wrong_key(self):
        key, _ = new_signer("someone.else/log")
        cp = self.file(self.checkpoint_after)
        self.fails(["--checkpoint", cp, self.bundle], "is not signed by someone.else/log+", key)

    # -- tampered receipts --

    def test_receipt_changed_index(self):
        receipt = self.receipt.replace(b"\nindex 3\n", b"\nindex 4\n")
        self.fails(["--receipt", self.file(receipt)], "its record is record 3 but its index line says 4")

    def test_receipt_altered_record(self):
        lines = self.receipt.split(b"\n")
        rec = json.loads(base64.b64decode(lines[1][len(b"extra ") :]))
        rec["actor"] = "operator:mallory"
        lines[1] = b"extra " + base64.b64encode(canonical_ascii(rec))
        out = self.fails(["--receipt", self.file(b"\n".join(lines))], "inclusion proof does not lead")
        self.assertIn("verification failed: receipt ", out)

    def test_receipt_changed_proof_hash(self):
        lines = self.receipt.split(b"\n")
        lines[3] = base64.b64encode(b"\x00" * 32)
        self.fails(["--receipt", self.file(b"\n".join(lines))], "inclusion proof does not lead")

    def test_receipt_changed_checkpoint(self):
        size, _ = self.size_and_root(self.checkpoint_after)
        receipt = self.receipt.replace(b"\n%d\n" % size, b"\n%d\n" % (size + 1))
        self.fails(["--receipt", self.file(receipt)], "its checkpoint: the signature by")

    # -- bundles that do not match what was signed --

    def test_bundle_truncated_below_checkpoint(self):
        size, _ = self.size_and_root(self.checkpoint_before)
        cp = self.file(self.checkpoint_before)
        # Cut, with its header left as it was: the bundle fails on its own.
        self.fails(["--checkpoint", cp, self.bundle_of(self.bundle_lines[: size - 5])], "missing")
        # Cut, with a header made to match: only the checkpoint shows it.
        short = self.bundle_of(rebuild(self.bundle_lines[1 : size - 5]))
        self.assertEqual(run(short)[0], 0)
        words = "holds %d records, fewer than the %d signed in checkpoint" % (size - 6, size)
        self.fails(["--checkpoint", cp, short], words)
        # A receipt for a record the bundle does not hold.
        two = self.bundle_of(rebuild(self.bundle_lines[1:3]))
        self.fails(["--receipt", self.file(self.receipt), two], "holds 2 records, so not record 3")

    def test_rewritten_history(self):
        # Record 3 changed and every later prev, the head and the root redone:
        # the bundle agrees with itself, but not with what was signed.
        lines = rebuild(self.bundle_lines[1:], (3, lambda rec: rec.__setitem__("actor", "operator:mallory")))
        bundle = self.bundle_of(lines)
        self.assertEqual(run(bundle)[0], 0)
        size, _ = self.size_and_root(self.checkpoint_before)
        words = "the first %d records do not have the Merkle root signed in checkpoint" % size
        self.fails(["--checkpoint", self.file(self.checkpoint_before), bundle], words)
        self.fails(["--receipt", self.file(self.receipt), bundle], "its record 3 differs from the bundle's record 3")

    # -- bad input --

    def test_bad_input(self):
        cp = self.file(self.checkpoint_after)
        self.assertEqual(run_args("--checkpoint", cp, self.bundle)[0], 2)  # no --key
        self.assertEqual(run_args("--key", self.key, self.bundle)[0], 2)  # --key alone
        self.assertEqual(self.verify("--checkpoint", cp, "--checkpoint", cp)[0], 2)
        self.assertEqual(run_args("--key", "not-a-key", "--checkpoint", cp)[0], 2)
        name, key_id, public = self.key.split("+", 2)
        wrong_id = "%08x" % (int(key_id, 16) ^ 1)
        code, _, err = run_args("--key", "+".join((name, wrong_id, public)), "--checkpoint", cp)
        self.assertEqual(code, 2)
        self.assertIn("is not the id of its name and key", err)
        code, _, err = self.verify("--checkpoint", self.bundle, self.bundle)
        self.assertEqual(code, 2)
        self.assertIn("is not a signed note", err)
        self.assertEqual(self.verify("--receipt", cp)[0], 2)
        self.assertEqual(self.verify("--receipt", os.path.join(self.tmp, "no-such-file"))[0], 2)

if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (result.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
