//! `Value` as an owned serde `Deserializer` (used by `from_value`).

use serde::de::{
    self, DeserializeSeed, EnumAccess, Error as _, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use super::{Value, ValueError};

/// Feeds a list's items to a visitor one by one.
struct SeqDeserializer {
    iter: std::vec::IntoIter<Value>,
}

impl SeqDeserializer {
    /// Visits `items` as a sequence; fails with `invalid_length` if the
    /// visitor stops before consuming every item.
    fn visit<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, ValueError> {
        let len = items.len();
        let mut seq = SeqDeserializer {
            iter: items.into_iter(),
        };
        let out = visitor.visit_seq(&mut seq)?;
        if seq.iter.len() == 0 {
            Ok(out)
        } else {
            Err(ValueError::invalid_length(
                len,
                &"fewer elements in the list",
            ))
        }
    }
}

impl<'de> SeqAccess<'de> for SeqDeserializer {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        match self.iter.next() {
            Some(item) => seed.deserialize(item).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Feeds a map's entries to a visitor one by one.
struct MapDeserializer {
    iter: std::vec::IntoIter<(Value, Value)>,
    value: Option<Value>,
}

impl MapDeserializer {
    /// Visits `entries` as a map; fails with `invalid_length` if the visitor
    /// stops before consuming every entry.
    fn visit<'de, V: Visitor<'de>>(
        entries: Vec<(Value, Value)>,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        let len = entries.len();
        let mut map = MapDeserializer {
            iter: entries.into_iter(),
            value: None,
        };
        let out = visitor.visit_map(&mut map)?;
        if map.iter.len() == 0 {
            Ok(out)
        } else {
            Err(ValueError::invalid_length(len, &"fewer entries in the map"))
        }
    }
}

impl<'de> MapAccess<'de> for MapDeserializer {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(ValueError::custom("map value requested before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An externally tagged enum: the variant name and its content, if any.
struct EnumDeserializer {
    variant: String,
    content: Option<Value>,
}

impl<'de> EnumAccess<'de> for EnumDeserializer {
    type Error = ValueError;
    type Variant = VariantDeserializer;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDeserializer), ValueError> {
        let variant = seed.deserialize(Value::Str(self.variant))?;
        Ok((
            variant,
            VariantDeserializer {
                content: self.content,
            },
        ))
    }
}

/// The content of an enum variant.
struct VariantDeserializer {
    content: Option<Value>,
}

impl<'de> VariantAccess<'de> for VariantDeserializer {
    type Error = ValueError;

    fn unit_variant(self) -> Result<(), ValueError> {
        match self.content {
            None | Some(Value::Nil) => Ok(()),
            Some(other) => Err(ValueError::invalid_type(
                other.unexpected(),
                &"unit variant",
            )),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ValueError> {
        match self.content {
            Some(value) => seed.deserialize(value),
            None => Err(ValueError::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.content {
            Some(Value::List(items)) => SeqDeserializer::visit(items, visitor),
            Some(other) => Err(ValueError::invalid_type(
                other.unexpected(),
                &"tuple variant",
            )),
            None => Err(ValueError::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.content {
            Some(Value::Map(entries)) => MapDeserializer::visit(entries, visitor),
            Some(Value::List(items)) => SeqDeserializer::visit(items, visitor),
            Some(other) => Err(ValueError::invalid_type(
                other.unexpected(),
                &"struct variant",
            )),
            None => Err(ValueError::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}

/// Turns bytes into a list of integers, for sequence targets such as `Vec<u8>`.
fn bytes_as_list(bytes: Vec<u8>) -> Vec<Value> {
    bytes.into_iter().map(Value::from).collect()
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Nil => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::UInt(u) => visitor.visit_u64(u),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) => visitor.visit_string(s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::List(items) => SeqDeserializer::visit(items, visitor),
            Value::Map(entries) => MapDeserializer::visit(entries, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Nil => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Nil => visitor.visit_unit(),
            other => Err(ValueError::invalid_type(other.unexpected(), &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Str(s) => visitor.visit_string(s),
            // Bytes are not text, even when they happen to be valid UTF-8.
            other => Err(ValueError::invalid_type(other.unexpected(), &visitor)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            // Python `bytes` read into a `Vec<u8>`-like sequence of integers.
            Value::Bytes(b) => SeqDeserializer::visit(bytes_as_list(b), visitor),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::Str(variant) => visitor.visit_enum(EnumDeserializer {
                variant,
                content: None,
            }),
            Value::Map(entries) => {
                let mut iter = entries.into_iter();
                match (iter.next(), iter.next()) {
                    (Some((Value::Str(variant), content)), None) => {
                        visitor.visit_enum(EnumDeserializer {
                            variant,
                            content: Some(content),
                        })
                    }
                    (Some((key, _)), None) => Err(ValueError::invalid_type(
                        key.unexpected(),
                        &"a string variant name as the enum map's key",
                    )),
                    _ => Err(ValueError::invalid_value(
                        Unexpected::Map,
                        &"a map with a single key (the variant name)",
                    )),
                }
            }
            other => Err(ValueError::invalid_type(
                other.unexpected(),
                &"a variant name string or a single-key map",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        drop(self);
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf tuple_struct map struct identifier
    }
}

impl IntoDeserializer<'_, ValueError> for Value {
    type Deserializer = Value;

    fn into_deserializer(self) -> Value {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::{from_value, to_value};
    use super::*;
    use serde::Deserialize;
    use std::collections::{BTreeMap, HashMap};

    fn s(x: &str) -> Value {
        Value::Str(x.to_owned())
    }

    fn err<T: serde::de::DeserializeOwned + std::fmt::Debug>(v: Value) -> String {
        from_value::<T>(v).unwrap_err().to_string()
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Point {
        x: i32,
        y: i32,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Pair(i32, String);

    #[derive(Debug, PartialEq, Deserialize)]
    enum E {
        Unit,
        New(i32),
        Tup(i32, i32),
        Struct { a: bool },
    }

    #[test]
    fn numbers() {
        assert_eq!(from_value::<f64>(Value::Int(3)).unwrap(), 3.0);
        assert_eq!(
            from_value::<f64>(Value::UInt(u64::MAX)).unwrap(),
            u64::MAX as f64
        );
        assert_eq!(from_value::<f32>(Value::Int(-2)).unwrap(), -2.0);
        assert_eq!(from_value::<u8>(Value::Int(255)).unwrap(), 255);
        assert_eq!(from_value::<u64>(Value::UInt(u64::MAX)).unwrap(), u64::MAX);
        assert_eq!(
            from_value::<i128>(Value::UInt(u64::MAX)).unwrap(),
            i128::from(u64::MAX)
        );
        assert_eq!(from_value::<u128>(Value::Int(9)).unwrap(), 9);
        assert_eq!(
            err::<u8>(Value::Int(256)),
            "invalid value: integer `256`, expected u8"
        );
        assert_eq!(
            err::<i64>(Value::UInt(u64::MAX)),
            "invalid value: integer `18446744073709551615`, expected i64"
        );
        assert_eq!(
            err::<i64>(Value::Float(1.0)),
            "invalid type: floating point `1.0`, expected i64"
        );
        assert_eq!(
            err::<bool>(Value::Int(1)),
            "invalid type: integer `1`, expected a boolean"
        );
    }

    #[test]
    fn strings_are_not_bytes() {
        assert_eq!(from_value::<String>(s("x")).unwrap(), "x");
        assert_eq!(
            err::<String>(Value::Bytes(b"abc".to_vec())),
            "invalid type: byte array, expected a string"
        );
        assert_eq!(
            err::<String>(Value::Int(1)),
            "invalid type: integer `1`, expected a string"
        );
        assert_eq!(from_value::<char>(s("é")).unwrap(), 'é');
        assert!(from_value::<char>(s("ab")).is_err());
    }

    #[test]
    fn bytes_into_sequences() {
        assert_eq!(
            from_value::<Vec<u8>>(Value::Bytes(vec![1, 2, 255])).unwrap(),
            vec![1, 2, 255]
        );
        assert_eq!(
            from_value::<[u8; 2]>(Value::Bytes(vec![7, 8])).unwrap(),
            [7, 8]
        );
        assert!(err::<[u8; 2]>(Value::Bytes(vec![7])).contains("invalid length"));
    }

    #[test]
    fn deserialize_bytes_accepts_bytes_str_and_list() {
        #[derive(Debug)]
        struct Raw(Vec<u8>);
        impl<'de> Deserialize<'de> for Raw {
            fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Raw;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("bytes")
                    }
                    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
                        Ok(Raw(v.to_vec()))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
                        Ok(Raw(v.as_bytes().to_vec()))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                        let mut out = Vec::new();
                        while let Some(b) = a.next_element::<u8>()? {
                            out.push(b);
                        }
                        Ok(Raw(out))
                    }
                }
                d.deserialize_bytes(V)
            }
        }
        assert_eq!(from_value::<Raw>(Value::Bytes(vec![1])).unwrap().0, vec![1]);
        assert_eq!(from_value::<Raw>(s("hi")).unwrap().0, b"hi".to_vec());
        assert_eq!(
            from_value::<Raw>(Value::List(vec![Value::Int(3)]))
                .unwrap()
                .0,
            vec![3]
        );
        assert!(from_value::<Raw>(Value::Int(3))
            .unwrap_err()
            .to_string()
            .contains("invalid type"));
    }

    #[test]
    fn options_and_units() {
        assert_eq!(from_value::<Option<i32>>(Value::Nil).unwrap(), None);
        assert_eq!(from_value::<Option<i32>>(Value::Int(1)).unwrap(), Some(1));
        from_value::<()>(Value::Nil).unwrap();
        assert_eq!(
            err::<()>(Value::Int(0)),
            "invalid type: integer `0`, expected unit"
        );
    }

    #[test]
    fn structs_from_maps_and_lists() {
        let p = Point { x: 1, y: 2 };
        let from_map = Value::Map(vec![
            (s("y"), Value::Int(2)),
            (s("x"), Value::Int(1)),
            (s("extra"), Value::Nil),
        ]);
        assert_eq!(from_value::<Point>(from_map).unwrap(), p);
        let from_list = Value::List(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(from_value::<Point>(from_list).unwrap(), p);
        assert_eq!(
            err::<Point>(Value::Map(vec![(s("x"), Value::Int(1))])),
            "missing field `y`"
        );
        assert!(err::<Point>(Value::List(vec![Value::Int(1)])).contains("invalid length 1"));
        assert_eq!(
            err::<Point>(Value::Map(vec![(s("x"), s("1")), (s("y"), Value::Int(2))])),
            "invalid type: string \"1\", expected i32"
        );
        assert_eq!(
            err::<Point>(Value::Int(5)),
            "invalid type: integer `5`, expected struct Point"
        );
    }

    #[test]
    fn tuples_and_tuple_structs_check_length() {
        assert_eq!(
            from_value::<Pair>(Value::List(vec![Value::Int(1), s("a")])).unwrap(),
            Pair(1, String::from("a"))
        );
        assert_eq!(
            err::<Pair>(Value::List(vec![Value::Int(1)])),
            "invalid length 1, expected tuple struct Pair with 2 elements"
        );
        assert_eq!(
            err::<Pair>(Value::List(vec![Value::Int(1), s("a"), Value::Nil])),
            "invalid length 3, expected fewer elements in the list"
        );
        assert_eq!(
            err::<(i32, i32)>(Value::List(vec![Value::Int(1)])),
            "invalid length 1, expected a tuple of size 2"
        );
        assert_eq!(
            err::<(i32,)>(Value::List(vec![Value::Int(1), Value::Int(2)])),
            "invalid length 2, expected fewer elements in the list"
        );
    }

    #[test]
    fn map_key_types() {
        let m = Value::Map(vec![(Value::Int(1), s("a")), (Value::Int(-2), s("b"))]);
        let back: BTreeMap<i64, String> = from_value(m.clone()).unwrap();
        assert_eq!(back.get(&-2).map(String::as_str), Some("b"));
        assert_eq!(
            from_value::<HashMap<String, String>>(m)
                .unwrap_err()
                .to_string(),
            "invalid type: integer `1`, expected a string"
        );
        let m = Value::Map(vec![(s("1"), s("a"))]);
        assert_eq!(
            from_value::<HashMap<i64, String>>(m)
                .unwrap_err()
                .to_string(),
            "invalid type: string \"1\", expected i64"
        );
    }

    #[test]
    fn enums() {
        assert_eq!(from_value::<E>(s("Unit")).unwrap(), E::Unit);
        assert_eq!(
            from_value::<E>(Value::Map(vec![(s("Unit"), Value::Nil)])).unwrap(),
            E::Unit
        );
        assert_eq!(
            from_value::<E>(Value::Map(vec![(s("New"), Value::Int(4))])).unwrap(),
            E::New(4)
        );
        assert_eq!(
            from_value::<E>(Value::Map(vec![(
                s("Tup"),
                Value::List(vec![Value::Int(1), Value::Int(2)])
            )]))
            .unwrap(),
            E::Tup(1, 2)
        );
        assert_eq!(
            from_value::<E>(Value::Map(vec![(
                s("Struct"),
                Value::Map(vec![(s("a"), Value::Bool(true))])
            )]))
            .unwrap(),
            E::Struct { a: true }
        );
        assert!(err::<E>(s("Nope")).starts_with("unknown variant `Nope`"));
        assert_eq!(
            err::<E>(s("New")),
            "invalid type: unit variant, expected newtype variant"
        );
        assert_eq!(
            err::<E>(Value::Map(vec![(s("Unit"), Value::Int(1))])),
            "invalid type: integer `1`, expected unit variant"
        );
        assert_eq!(
            err::<E>(Value::Map(vec![(s("Tup"), Value::Int(1))])),
            "invalid type: integer `1`, expected tuple variant"
        );
        assert_eq!(
            err::<E>(Value::Map(vec![(s("Struct"), Value::Int(1))])),
            "invalid type: integer `1`, expected struct variant"
        );
        assert_eq!(
            err::<E>(Value::Map(vec![])),
            "invalid value: map, expected a map with a single key (the variant name)"
        );
        assert_eq!(
            err::<E>(Value::Map(vec![
                (s("Unit"), Value::Nil),
                (s("New"), Value::Int(1))
            ])),
            "invalid value: map, expected a map with a single key (the variant name)"
        );
        assert_eq!(
            err::<E>(Value::Map(vec![(Value::Int(0), Value::Nil)])),
            "invalid type: integer `0`, expected a string variant name as the enum map's key"
        );
        assert_eq!(
            err::<E>(Value::Int(0)),
            "invalid type: integer `0`, expected a variant name string or a single-key map"
        );
        assert!(err::<E>(Value::Map(vec![(
            s("Tup"),
            Value::List(vec![Value::Int(1)])
        )]))
        .contains("invalid length 1"));
    }

    #[test]
    fn value_deserialize_rejects_enums() {
        // Value's own Deserialize reads plain data but rejects an enum.
        let de = serde::de::value::StrDeserializer::<ValueError>::new("x");
        assert_eq!(Value::deserialize(de).unwrap(), s("x"));
        let de = serde::de::value::U32Deserializer::<ValueError>::new(7);
        let e = serde::de::value::EnumAccessDeserializer::new(de);
        let msg = Value::deserialize(e).unwrap_err().to_string();
        assert_eq!(msg, "invalid type: enum, expected any value");
    }

    #[test]
    fn value_deserialize_128_bit() {
        let de = serde::de::value::I128Deserializer::<ValueError>::new(-5);
        assert_eq!(Value::deserialize(de).unwrap(), Value::Int(-5));
        let de = serde::de::value::U128Deserializer::<ValueError>::new(u128::from(u64::MAX));
        assert_eq!(Value::deserialize(de).unwrap(), Value::UInt(u64::MAX));
        let de = serde::de::value::U128Deserializer::<ValueError>::new(u128::MAX);
        assert!(Value::deserialize(de)
            .unwrap_err()
            .to_string()
            .contains("340282366920938463463374607431768211455"));
    }

    #[test]
    fn ignored_fields_and_into_deserializer() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct Only {
            a: i32,
        }
        let v = Value::Map(vec![
            (s("a"), Value::Int(1)),
            (
                s("ignored"),
                Value::Map(vec![(Value::Nil, Value::Bytes(vec![]))]),
            ),
        ]);
        assert_eq!(from_value::<Only>(v.clone()).unwrap(), Only { a: 1 });
        let only = Only::deserialize(v.into_deserializer()).unwrap();
        assert_eq!(only, Only { a: 1 });
    }

    #[test]
    fn untagged_and_internally_tagged_enums() {
        #[derive(Debug, PartialEq, Deserialize, serde::Serialize)]
        #[serde(untagged)]
        enum U {
            Num(i64),
            Text(String),
        }
        #[derive(Debug, PartialEq, Deserialize, serde::Serialize)]
        #[serde(tag = "kind")]
        enum T {
            A { n: i64 },
            B,
        }
        assert_eq!(from_value::<U>(Value::Int(3)).unwrap(), U::Num(3));
        assert_eq!(from_value::<U>(s("x")).unwrap(), U::Text(String::from("x")));
        let a = to_value(&T::A { n: 2 }).unwrap();
        assert_eq!(from_value::<T>(a).unwrap(), T::A { n: 2 });
        let b = Value::Map(vec![(s("kind"), s("B"))]);
        assert_eq!(from_value::<T>(b).unwrap(), T::B);
    }
}
