//! Hostile items of the opt-in endpoints, for [`crate::Fault::HostileValues`]: each item is
//! rendered faithfully, then spoiled by one variant chosen by its position, so a page shows
//! every variant: label values longer than 1 KB, numbers that are negative, strings, `1e308`
//! or beyond 2^64, nulls where values belong, and unknown nested fields.

use serde_json::{Value, json};

/// The places of an item a variant spoils, as JSON pointers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spots {
    /// Strings that become metric labels (severity, pool names, ...).
    pub labels: &'static [&'static str],
    /// Numbers that become metric values or labels.
    pub numbers: &'static [&'static str],
}

/// Number of variants.
pub(crate) const VARIANTS: u64 = 4;

/// Stands for 2^64 in the value tree; replaced by the bare number in the text.
const HUGE_MARK: &str = "\u{1}sim-two-pow-64\u{1}";

/// Length of the long label values.
const LONG: usize = 1500;

fn long_text(original: &Value) -> Value {
    let base = original.as_str().unwrap_or("hostile");
    Value::String(format!("{base}-{}", "\u{00e9}x".repeat(LONG / 2)))
}

fn odd_number(k: u64) -> Value {
    match k % 4 {
        0 => json!(-5),
        1 => json!("abc"),
        2 => json!(1e308),
        _ => json!(HUGE_MARK),
    }
}

/// `normal` (one item's JSON) spoiled by the variant of `position`; `normal` itself if it does
/// not parse.
pub(crate) fn spoil(normal: &str, position: u64, spots: &Spots) -> String {
    let Ok(mut item) = serde_json::from_str::<Value>(normal) else {
        return normal.to_owned();
    };
    match position % VARIANTS {
        0 => {
            for pointer in spots.labels {
                if let Some(slot) = item.pointer_mut(pointer) {
                    *slot = long_text(slot);
                }
            }
        }
        1 => {
            for (k, pointer) in spots.numbers.iter().enumerate() {
                if let Some(slot) = item.pointer_mut(pointer) {
                    *slot = odd_number(position / VARIANTS + k as u64);
                }
            }
        }
        2 => {
            for pointer in spots.labels.iter().chain(spots.numbers) {
                if let Some(slot) = item.pointer_mut(pointer) {
                    *slot = Value::Null;
                }
            }
        }
        _ => {
            let extra = json!({
                "xSimUnknownObject": {"level1": {"list": [1, "two", null, true, {"deep": [[], {}]}]}},
                "xSimUnknownArray": [{"a": 1}, [2, [3]], "four", null, -5.5e-3],
                "xSimUnknownText": "nul\u{0000} snow\u{2603}",
            });
            if let (Some(target), Some(extra)) = (item.as_object_mut(), extra.as_object()) {
                target.extend(extra.clone());
            }
            if let Some(attributes) = item.get_mut("attributes").and_then(Value::as_object_mut)
                && let Some(extra) = extra.as_object()
            {
                attributes.extend(extra.clone());
            }
        }
    }
    item.to_string()
        .replace(&json!(HUGE_MARK).to_string(), "18446744073709551616")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_is_valid_json_and_spoils() {
        let spots = Spots {
            labels: &["/attributes/name"],
            numbers: &["/attributes/n"],
        };
        let normal = r#"{"id":"1","attributes":{"name":"pool","n":3}}"#;
        let variants: Vec<Value> = (0..VARIANTS)
            .map(|p| serde_json::from_str(&spoil(normal, p, &spots)).expect("JSON"))
            .collect();
        assert!(
            variants[0]["attributes"]["name"]
                .as_str()
                .is_some_and(|s| s.len() > 1024)
        );
        assert_eq!(variants[1]["attributes"]["n"], json!(-5));
        assert!(variants[2]["attributes"]["name"].is_null());
        assert!(variants[3]["attributes"]["xSimUnknownArray"].is_array());
        let huge = spoil(normal, 13, &spots);
        assert!(huge.contains(":18446744073709551616"), "{huge}");
        assert_eq!(spoil("not json", 0, &spots), "not json");
    }
}
