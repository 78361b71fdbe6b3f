//! The published JSON Schemas (schemas/) are generated from the Rust types
//! and checked in; this test fails when they drift, and fixtures show that
//! the schemas and the types accept and refuse the same payloads.
//!
//! To regenerate after changing an event type:
//! `JOINTLY_WRITE_SCHEMAS=1 cargo test --test it schemas`.

use jointly::coproduction::events::{EVENT_TYPES, Event};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema_text(name: &str, schema: &schemars::Schema) -> String {
    let mut value = schema.as_value().clone();
    let obj = value.as_object_mut().unwrap();
    obj.insert(
        "$id".into(),
        format!("https://jointly.invalid/schemas/{name}.schema.json").into(),
    );
    obj.insert("title".into(), format!("{name} payload").into());
    format!("{}\n", serde_json::to_string_pretty(&value).unwrap())
}

#[test]
fn schemas_are_generated_from_the_types() {
    let dir = root().join("schemas");
    let write = std::env::var_os("JOINTLY_WRITE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (name, schema) in Event::schemas() {
        let path = dir.join(format!("{name}.schema.json"));
        let text = schema_text(name, &schema);
        if write {
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "schemas out of date for {stale:?}: run JOINTLY_WRITE_SCHEMAS=1 cargo test --test it schemas"
    );
    // Nothing else is published: the envelope and one file per event type.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let name = file
            .strip_suffix(".schema.json")
            .expect("schema files end .schema.json");
        assert!(
            name == "record" || EVENT_TYPES.contains(&name),
            "stray schema {file}"
        );
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = root().join("schemas").join(format!("{name}.schema.json"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{name}: schema does not compile: {e}"))
}

#[test]
fn every_schema_compiles() {
    validator("record");
    for name in EVENT_TYPES {
        validator(name);
    }
}

/// Fixtures: tests/data/fixtures/<type>.json is {"valid": [...], "invalid": [...]}.
#[test]
fn schemas_and_types_agree_on_fixtures() {
    let dir = root().join("tests/data/fixtures");
    let mut counted = (0, 0);
    for name in EVENT_TYPES {
        let path: &Path = &dir.join(format!("{name}.json"));
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|_| panic!("no fixtures for {name}"));
        let fixtures: serde_json::Value = serde_json::from_str(&text).unwrap();
        let v = validator(name);
        for payload in fixtures["valid"].as_array().unwrap() {
            assert!(
                v.is_valid(payload),
                "{name}: schema refuses valid {payload}"
            );
            let read = Event::from_payload(name, payload).unwrap();
            assert!(
                read.is_ok(),
                "{name}: types refuse valid {payload}: {:?}",
                read.err()
            );
            counted.0 += 1;
        }
        for payload in fixtures["invalid"].as_array().unwrap() {
            assert!(
                !v.is_valid(payload),
                "{name}: schema accepts invalid {payload}"
            );
            let read = Event::from_payload(name, payload).unwrap();
            assert!(read.is_err(), "{name}: types accept invalid {payload}");
            counted.1 += 1;
        }
    }
    assert!(
        counted.0 >= EVENT_TYPES.len() && counted.1 >= 3 * EVENT_TYPES.len(),
        "{counted:?}"
    );
}
