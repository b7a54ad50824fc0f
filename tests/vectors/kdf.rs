use super::common::Outcome;
use serde_json::Value;
use std::path::Path;

pub fn case(_c: &Value, _dir: &Path) -> Outcome {
    Outcome::Skip
}
