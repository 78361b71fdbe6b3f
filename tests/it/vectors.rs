//! Published test vectors: RFC 8785 (cyberphone/json-canonicalization) and
//! RFC 6962 Merkle trees (transparency-dev/merkle). Origins are recorded
//! beside the files in tests/data/.

use jointly::ledger::Digest;
use jointly::ledger::canonical::{CanonicalPayload, PayloadError, canonical_bytes};
use jointly::ledger::merkle::{
    self, CompactRange, LeafIndex, NodeId, NodeSource, TreeSize, verify_consistency,
    verify_inclusion,
};
use std::collections::HashMap;
use std::path::Path;

fn data(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

#[test]
fn rfc8785_vectors_canonicalise_exactly() {
    let dir = data("rfc8785");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".input.json") else {
            continue;
        };
        let input = std::fs::read(&path).unwrap();
        let expect = std::fs::read(dir.join(format!("{stem}.output.json"))).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&input).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&canonical_bytes(&value)),
            String::from_utf8_lossy(&expect),
            "vector {stem}"
        );
        // The strict payload reader agrees where it accepts, and refuses
        // only for a reason it names (fractions, ranges, non-objects).
        match CanonicalPayload::parse(&input) {
            Ok(p) => assert_eq!(p.as_bytes(), &expect[..], "vector {stem}"),
            Err(PayloadError::NotWholeNumber { .. })
            | Err(PayloadError::NegativeZero { .. })
            | Err(PayloadError::OutOfRange { .. })
            | Err(PayloadError::NotObject { .. }) => {}
            Err(e) => panic!("vector {stem}: unexpected refusal {e}"),
        }
        seen += 1;
    }
    assert!(seen >= 6, "only {seen} RFC 8785 vectors found");
}

#[test]
fn rfc8785_appendix_b_numbers() {
    let text = std::fs::read_to_string(data("rfc8785/numbers.tsv")).unwrap();
    let mut seen = 0;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let (hex, expect) = line.split_once('\t').unwrap();
        let f = f64::from_bits(u64::from_str_radix(hex, 16).unwrap());
        assert_eq!(
            String::from_utf8(canonical_bytes(&f)).unwrap(),
            expect,
            "{hex}"
        );
        seen += 1;
    }
    assert!(seen >= 20);
}

#[derive(serde::Deserialize)]
struct MerkleVectors {
    leaves_hex: Vec<String>,
    empty_root_hex: String,
    roots_hex: Vec<String>,
    inclusion: Vec<Inclusion>,
    consistency: Vec<Consistency>,
    hasher: Vec<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct Inclusion {
    leaf_index: u64,
    tree_size: u64,
    proof_hex: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Consistency {
    size1: u64,
    size2: u64,
    proof_hex: Vec<String>,
}

fn h(text: &str) -> Digest {
    Digest::from_hex(text).unwrap()
}

fn hs(texts: &[String]) -> Vec<Digest> {
    texts.iter().map(|t| h(t)).collect()
}

struct Nodes(HashMap<NodeId, Digest>);

impl NodeSource for Nodes {
    type Error = std::convert::Infallible;
    fn node(&self, id: NodeId) -> Result<Digest, Self::Error> {
        Ok(self.0[&id])
    }
}

fn vectors() -> (MerkleVectors, Nodes, Vec<Digest>) {
    let v: MerkleVectors =
        serde_json::from_slice(&std::fs::read(data("merkle/vectors.json")).unwrap()).unwrap();
    let leaves: Vec<Digest> = v
        .leaves_hex
        .iter()
        .map(|l| merkle::leaf_hash(&hex::decode(l).unwrap()))
        .collect();
    let mut nodes = HashMap::new();
    let mut range = CompactRange::default();
    for leaf in &leaves {
        range.push(*leaf, |id, hash| {
            nodes.insert(id, hash);
        });
    }
    (v, Nodes(nodes), leaves)
}

#[test]
fn merkle_roots_and_hasher_vectors() {
    let (v, nodes, _) = vectors();
    assert_eq!(merkle::empty_root(), h(&v.empty_root_hex));
    for (i, root) in v.roots_hex.iter().enumerate() {
        let size = TreeSize(i as u64 + 1);
        assert_eq!(
            merkle::root(&nodes, size).unwrap(),
            h(root),
            "size {}",
            size.0
        );
    }
    for case in &v.hasher {
        let expect = h(case["expected_hex"].as_str().unwrap());
        let got = match case["kind"].as_str().unwrap() {
            "empty" => merkle::empty_root(),
            "leaf" => merkle::leaf_hash(&hex::decode(case["input_hex"].as_str().unwrap()).unwrap()),
            "children" => {
                // RFC 6962 children here are raw strings, so hash by hand.
                use sha2::Digest as _;
                let parts = case["input_hex"].as_array().unwrap();
                let mut s = sha2::Sha256::new();
                s.update([merkle::NODE_PREFIX]);
                for p in parts {
                    s.update(hex::decode(p.as_str().unwrap()).unwrap());
                }
                Digest(s.finalize().into())
            }
            other => panic!("unknown hasher case {other}"),
        };
        assert_eq!(got, expect, "{case}");
    }
}

#[test]
fn merkle_inclusion_vectors_are_produced_and_verified() {
    let (v, nodes, leaves) = vectors();
    for c in &v.inclusion {
        let (m, n) = (LeafIndex(c.leaf_index), TreeSize(c.tree_size));
        let root = h(&v.roots_hex[c.tree_size as usize - 1]);
        let expect = hs(&c.proof_hex);
        assert_eq!(
            merkle::inclusion_proof(&nodes, m, n).unwrap().unwrap(),
            expect,
            "({}, {})",
            m.0,
            n.0
        );
        let leaf = leaves[m.0 as usize];
        verify_inclusion(m, n, &leaf, &expect, &root).unwrap();

        // Every mutation the upstream tests apply must be refused.
        let bad_root = h("abacaba000000000000000000000000000000000000000000000000000123456");
        let refuse = |m: u64, n: u64, leaf: Digest, proof: Vec<Digest>, root: Digest, why: &str| {
            assert!(
                verify_inclusion(LeafIndex(m), TreeSize(n), &leaf, &proof, &root).is_err(),
                "accepted {why} for ({}, {})",
                c.leaf_index,
                c.tree_size
            );
        };
        let (mi, ni) = (c.leaf_index, c.tree_size);
        if !(mi == 0 && ni == 1) {
            refuse(
                mi.wrapping_sub(1),
                ni,
                leaf,
                expect.clone(),
                root,
                "index - 1",
            );
            refuse(mi + 1, ni, leaf, expect.clone(), root, "index + 1");
            refuse(mi ^ 2, ni, leaf, expect.clone(), root, "index ^ 2");
            refuse(mi, ni * 2, leaf, expect.clone(), root, "size * 2");
            refuse(mi, ni / 2, leaf, expect.clone(), root, "size / 2");
        }
        refuse(
            mi,
            ni,
            merkle::leaf_hash(b"WrongLeaf"),
            expect.clone(),
            root,
            "wrong leaf",
        );
        refuse(
            mi,
            ni,
            leaf,
            expect.clone(),
            merkle::empty_root(),
            "empty root",
        );
        refuse(mi, ni, leaf, expect.clone(), bad_root, "other root");
        let mut longer = expect.clone();
        longer.push(root);
        refuse(mi, ni, leaf, longer, root, "trailing root");
        let mut longer = vec![root];
        longer.extend(expect.iter().copied());
        refuse(mi, ni, leaf, longer, root, "preceding root");
        for i in 0..expect.len() {
            let mut flipped = expect.clone();
            flipped[i].0[0] ^= 0x08;
            refuse(mi, ni, leaf, flipped, root, "flipped bit");
        }
        if !expect.is_empty() {
            refuse(
                mi,
                ni,
                leaf,
                expect[..expect.len() - 1].to_vec(),
                root,
                "removed hash",
            );
            let mut inserted = vec![expect[0], bad_root];
            inserted.extend(expect[1..].iter().copied());
            refuse(mi, ni, leaf, inserted, root, "inserted hash");
        }
    }
}

#[test]
fn merkle_consistency_vectors_are_produced_and_verified() {
    let (v, nodes, _) = vectors();
    for c in &v.consistency {
        let (a, b) = (TreeSize(c.size1), TreeSize(c.size2));
        let (ra, rb) = (
            h(&v.roots_hex[c.size1 as usize - 1]),
            h(&v.roots_hex[c.size2 as usize - 1]),
        );
        let expect = hs(&c.proof_hex);
        assert_eq!(
            merkle::consistency_proof(&nodes, a, b).unwrap().unwrap(),
            expect,
            "({}, {})",
            a.0,
            b.0
        );
        verify_consistency(a, b, &ra, &rb, &expect).unwrap();
        if a == b {
            assert!(verify_consistency(a, b, &ra, &merkle::empty_root(), &expect).is_err());
            continue;
        }
        let refuse = |a: u64, b: u64, ra: Digest, rb: Digest, proof: Vec<Digest>, why: &str| {
            assert!(
                verify_consistency(TreeSize(a), TreeSize(b), &ra, &rb, &proof).is_err(),
                "accepted {why} for ({}, {})",
                c.size1,
                c.size2
            );
        };
        refuse(c.size1, c.size2, rb, rb, expect.clone(), "wrong first root");
        refuse(
            c.size1,
            c.size2,
            ra,
            ra,
            expect.clone(),
            "wrong second root",
        );
        refuse(c.size1, c.size2, rb, ra, expect.clone(), "swapped roots");
        refuse(c.size1 + 1, c.size2, ra, rb, expect.clone(), "size1 + 1");
        refuse(c.size1, c.size2 * 2, ra, rb, expect.clone(), "size2 * 2");
        refuse(c.size2, c.size1, ra, rb, expect.clone(), "sizes swapped");
        refuse(c.size1, c.size2, ra, rb, vec![], "empty proof");
        for i in 0..expect.len() {
            let mut flipped = expect.clone();
            flipped[i].0[0] ^= 0x08;
            refuse(c.size1, c.size2, ra, rb, flipped, "flipped bit");
        }
        let mut longer = expect.clone();
        longer.push(rb);
        refuse(c.size1, c.size2, ra, rb, longer, "trailing hash");
        refuse(
            c.size1,
            c.size2,
            ra,
            rb,
            expect[..expect.len() - 1].to_vec(),
            "removed hash",
        );
    }
}

/// The worked example of docs/FORMAT.md checks out, with the root it gives.
#[test]
fn format_example_bundle_checks_out() {
    let path = data("format-example.jsonl");
    let summary = jointly::ledger::bundle::check_bundle(&path, &mut |_| {}, &mut ()).unwrap();
    assert_eq!(summary.size, 3);
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/FORMAT.md"))
        .unwrap();
    assert!(
        doc.contains(&summary.root.to_base64()),
        "FORMAT.md does not show the example's root"
    );
    assert!(
        doc.contains(&summary.head.to_hex()),
        "FORMAT.md does not show the example's head"
    );
}
