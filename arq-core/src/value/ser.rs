//! A serde `Serializer` that builds a [`Value`] tree (used by `to_value`).

use serde::ser::{self, Error as _, Serialize};

use super::{Value, ValueError};

/// Serializes any `Serialize` type into a [`Value`].
///
/// Structs become maps keyed by field name, enums are externally tagged.
pub(super) struct ValueSerializer;

/// Serializes `value` with a fresh [`ValueSerializer`].
fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ValueSerializer)
}

/// Wraps `content` as the externally tagged form `{variant: content}`.
fn tagged(variant: &'static str, content: Value) -> Value {
    Value::Map(vec![(Value::Str(variant.to_owned()), content)])
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;

    type SerializeSeq = SerializeList;
    type SerializeTuple = SerializeList;
    type SerializeTupleStruct = SerializeList;
    type SerializeTupleVariant = SerializeTupleVariant;
    type SerializeMap = SerializeMap;
    type SerializeStruct = SerializeStruct;
    type SerializeStructVariant = SerializeStructVariant;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(Value::Int(i64::from(v)))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(Value::Int(i64::from(v)))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(Value::Int(i64::from(v)))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(Value::Int(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        Value::from_i128(v).ok_or_else(|| {
            ValueError::custom(format!(
                "integer {v} is out of range for a Value (must fit in i64 or u64)"
            ))
        })
    }

    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(Value::Int(i64::from(v)))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(Value::Int(i64::from(v)))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(Value::Int(i64::from(v)))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        Ok(Value::from_u64(v))
    }

    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        Value::from_u128(v).ok_or_else(|| {
            ValueError::custom(format!(
                "integer {v} is out of range for a Value (must fit in u64)"
            ))
        })
    }

    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(Value::Float(f64::from(v)))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(Value::Float(v))
    }

    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::Str(v.to_string()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::Str(v.to_owned()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Nil)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Nil)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Nil)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::Str(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        Ok(tagged(variant, to_value(value)?))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SerializeList, ValueError> {
        Ok(SerializeList {
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<SerializeList, ValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeList, ValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeTupleVariant, ValueError> {
        Ok(SerializeTupleVariant {
            variant,
            items: Vec::with_capacity(len),
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<SerializeMap, ValueError> {
        Ok(SerializeMap {
            entries: Vec::with_capacity(len.unwrap_or(0)),
            next_key: None,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeStruct, ValueError> {
        Ok(SerializeStruct {
            entries: Vec::with_capacity(len),
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeStructVariant, ValueError> {
        Ok(SerializeStructVariant {
            variant,
            entries: Vec::with_capacity(len),
        })
    }
}

/// Collects the items of a sequence, tuple or tuple struct into a list.
pub(super) struct SerializeList {
    items: Vec<Value>,
}

impl ser::SerializeSeq for SerializeList {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items.push(to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::List(self.items))
    }
}

impl ser::SerializeTuple for SerializeList {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SerializeList {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

/// Collects the fields of a tuple variant into `{variant: [fields...]}`.
pub(super) struct SerializeTupleVariant {
    variant: &'static str,
    items: Vec<Value>,
}

impl ser::SerializeTupleVariant for SerializeTupleVariant {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items.push(to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(tagged(self.variant, Value::List(self.items)))
    }
}

/// Collects map entries, keys converted with `to_value` like any value.
pub(super) struct SerializeMap {
    entries: Vec<(Value, Value)>,
    next_key: Option<Value>,
}

impl ser::SerializeMap for SerializeMap {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.next_key = Some(to_value(key)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .next_key
            .take()
            .ok_or_else(|| ValueError::custom("serialize_value called before serialize_key"))?;
        self.entries.push((key, to_value(value)?));
        Ok(())
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), ValueError> {
        self.entries.push((to_value(key)?, to_value(value)?));
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        if self.next_key.is_some() {
            return Err(ValueError::custom("map key serialized without a value"));
        }
        Ok(Value::Map(self.entries))
    }
}

/// Collects struct fields into a map keyed by field name, in field order.
pub(super) struct SerializeStruct {
    entries: Vec<(Value, Value)>,
}

impl ser::SerializeStruct for SerializeStruct {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.entries
            .push((Value::Str(key.to_owned()), to_value(value)?));
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Map(self.entries))
    }
}

/// Collects the fields of a struct variant into `{variant: {field: value}}`.
pub(super) struct SerializeStructVariant {
    variant: &'static str,
    entries: Vec<(Value, Value)>,
}

impl ser::SerializeStructVariant for SerializeStructVariant {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.entries
            .push((Value::Str(key.to_owned()), to_value(value)?));
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(tagged(self.variant, Value::Map(self.entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::to_value;
    use super::*;
    use serde::ser::{SerializeMap as _, Serializer as _};
    use std::collections::BTreeMap;

    fn s(x: &str) -> Value {
        Value::Str(x.to_owned())
    }

    #[derive(serde::Serialize)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<i32>,
        #[serde(rename = "renamed")]
        kept: bool,
    }

    #[derive(serde::Serialize)]
    #[serde(tag = "type")]
    enum Internally {
        A { n: i32 },
    }

    #[test]
    fn struct_fields_are_named_and_ordered() {
        let v = to_value(&Flags {
            skipped: None,
            kept: true,
        })
        .unwrap();
        assert_eq!(v, Value::Map(vec![(s("renamed"), Value::Bool(true))]));
    }

    #[test]
    fn internally_tagged_enum() {
        let v = to_value(&Internally::A { n: 1 }).unwrap();
        assert_eq!(
            v,
            Value::Map(vec![(s("type"), s("A")), (s("n"), Value::Int(1))])
        );
    }

    #[test]
    fn map_keys_of_any_type() {
        let mut m = BTreeMap::new();
        m.insert((1, 2), "pair");
        let v = to_value(&m).unwrap();
        assert_eq!(
            v,
            Value::Map(vec![(
                Value::List(vec![Value::Int(1), Value::Int(2)]),
                s("pair")
            )])
        );
        let mut b = BTreeMap::new();
        b.insert(true, ());
        assert_eq!(
            to_value(&b).unwrap(),
            Value::Map(vec![(Value::Bool(true), Value::Nil)])
        );
    }

    #[test]
    fn split_key_value_calls() {
        let mut map = ValueSerializer.serialize_map(None).unwrap();
        map.serialize_key("k").unwrap();
        map.serialize_value(&5u8).unwrap();
        assert_eq!(
            map.end().unwrap(),
            Value::Map(vec![(s("k"), Value::Int(5))])
        );

        let mut map = ValueSerializer.serialize_map(None).unwrap();
        assert!(map.serialize_value(&5u8).is_err());
        let mut map = ValueSerializer.serialize_map(None).unwrap();
        map.serialize_key("k").unwrap();
        assert!(map.end().is_err());
    }

    #[test]
    fn collect_str_and_unit_variant() {
        let v = ValueSerializer
            .collect_str(&format_args!("{}-{}", 1, 2))
            .unwrap();
        assert_eq!(v, s("1-2"));
        assert_eq!(
            ValueSerializer
                .serialize_unit_variant("E", 0, "Var")
                .unwrap(),
            s("Var")
        );
    }
}
