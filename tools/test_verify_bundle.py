#!/usr/bin/env python3
"""Tests of tools/verify-bundle on tests/data/format-example.jsonl and
tampered copies of it. Run: python3 tools/test_verify_bundle.py
(needs `pip install blake3`)."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

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


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (result.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
