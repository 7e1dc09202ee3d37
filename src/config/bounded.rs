//! Layer options read as YAML values under a node budget, so that aliases cannot expand a
//! small file into millions of nodes (a "billion laughs" inside `pipeline:`).

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_yaml::{Mapping, Number, Value};
use std::{cell::Cell, fmt};

/// Most YAML nodes all layer options of one file may hold, aliases counted as expanded.
pub(crate) const NODE_BUDGET: usize = 100_000;

thread_local! {
    static LEFT: Cell<usize> = const { Cell::new(NODE_BUDGET) };
}

/// Runs `parse` with a fresh node budget.
pub(crate) fn with_budget<T>(parse: impl FnOnce() -> T) -> T {
    LEFT.with(|left| left.set(NODE_BUDGET));
    parse()
}

/// Counts one node; fails once the budget is spent.
fn spend<E: de::Error>() -> Result<(), E> {
    LEFT.with(|left| match left.get() {
        0 => Err(E::custom(format!(
            "layer options hold more than {NODE_BUDGET} values (aliases are counted as expanded)"
        ))),
        n => {
            left.set(n - 1);
            Ok(())
        }
    })
}

/// Builds a `serde_yaml::Value`, counting every node against the budget.
pub(crate) struct BoundedValue;

impl<'de> Visitor<'de> for BoundedValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        spend()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        spend()?;
        Ok(Value::Number(Number::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        spend()?;
        Ok(Value::Number(Number::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        spend()?;
        Ok(Value::Number(Number::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        spend()?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        spend()?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        spend()?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        spend()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed)? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        spend()?;
        let mut entries = Mapping::new();
        while let Some((key, value)) = map.next_entry_seed(Seed, Seed)? {
            entries.insert(key, value);
        }
        Ok(Value::Mapping(entries))
    }
}

/// [`BoundedValue`] as a seed for the elements of sequences and mappings.
struct Seed;

impl<'de> de::DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(BoundedValue)
    }
}
