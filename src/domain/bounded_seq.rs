//! A JSON array of at most `limit` items: more are counted, never held, so
//! a body of tiny elements cannot cost memory in proportion to their count.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, SeqAccess, Visitor};

use super::skip::Skip;

/// Deserializes a JSON array of at most `limit` items of type `T`;
/// `expecting` names the array in error messages.
pub struct BoundedSeq<T> {
    pub limit: usize,
    pub expecting: &'static str,
    item: PhantomData<T>,
}

impl<T> BoundedSeq<T> {
    pub fn new(limit: usize, expecting: &'static str) -> Self {
        Self {
            limit,
            expecting,
            item: PhantomData,
        }
    }
}

pub enum Bounded<T> {
    Items(Vec<T>),
    /// More than the limit: how many there were.
    TooMany(usize),
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for BoundedSeq<T> {
    type Value = Bounded<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for BoundedSeq<T> {
    type Value = Bounded<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<T>()? {
            if items.len() == self.limit {
                let mut count = self.limit + 1;
                while seq.next_element::<Skip>()?.is_some() {
                    count += 1;
                }
                return Ok(Bounded::TooMany(count));
            }
            items.push(item);
        }
        Ok(Bounded::Items(items))
    }
}
