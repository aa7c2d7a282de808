//! Skipping a JSON value we do not keep (unknown fields, nested values),
//! while still counting its depth. serde's `IgnoredAny` skips without
//! recursing, so it never meets serde_json's recursion limit: a body nested
//! 50,000 levels deep inside an ignored field would be accepted. `Skip`
//! recurses through `deserialize_any`, so the limit (128) applies and such a
//! body gets a precise 400 instead.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

pub struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_values_skip_and_deep_ones_hit_the_limit() {
        let shallow = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(serde_json::from_str::<Skip>(&shallow).is_ok());
        let nested_maps = r#"{"a":{"b":[1,{"c":null}],"d":"x"}}"#;
        assert!(serde_json::from_str::<Skip>(nested_maps).is_ok());
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let error = serde_json::from_str::<Skip>(&deep).err().unwrap();
        assert!(
            error.to_string().contains("recursion limit exceeded"),
            "{error}"
        );
    }
}
