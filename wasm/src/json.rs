//! The page's other answers (the run's config, "why?", a link's faults, the invariant
//! list), written as JSON for the browser's own `JSON.parse`: they are asked for now and
//! then, not every frame, and a few lines of writer here cost the module far less than a
//! serializer per type. An absent value leaves its field out (JS reads `undefined`).

use alloc::string::String;
use core::fmt::Write as _;

/// A JSON object being written, field by field.
pub struct Object {
    out: String,
    empty: bool,
}

impl Default for Object {
    fn default() -> Self {
        Object::new()
    }
}

impl Object {
    pub fn new() -> Object {
        Object {
            out: String::from("{"),
            empty: true,
        }
    }

    fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        quote(key, &mut self.out);
        self.out.push(':');
        &mut self.out
    }

    /// A whole number (all of ours stay below 2^53, exact in a JS number).
    pub fn num(mut self, key: &str, v: u64) -> Object {
        let _ = write!(self.key(key), "{v}");
        self
    }

    pub fn opt_num(self, key: &str, v: Option<u64>) -> Object {
        match v {
            Some(v) => self.num(key, v),
            None => self,
        }
    }

    /// `units / 10^places` as a decimal, written with integer arithmetic only (float
    /// formatting would bring core's 10 KB float printer into the module).
    pub fn decimal(mut self, key: &str, units: u64, places: u32) -> Object {
        let scale = 10u64.pow(places);
        let out = self.key(key);
        let _ = write!(out, "{}", units / scale);
        let mut frac = units % scale;
        if frac > 0 {
            let mut digits = places as usize;
            while frac.is_multiple_of(10) {
                frac /= 10;
                digits -= 1;
            }
            let _ = write!(out, ".{frac:0digits$}");
        }
        self
    }

    pub fn bool(mut self, key: &str, v: bool) -> Object {
        self.key(key).push_str(if v { "true" } else { "false" });
        self
    }

    pub fn str(mut self, key: &str, v: &str) -> Object {
        quote(v, self.key(key));
        self
    }

    pub fn opt_str(self, key: &str, v: Option<&str>) -> Object {
        match v {
            Some(v) => self.str(key, v),
            None => self,
        }
    }

    /// A value already written as JSON (a nested object or array).
    pub fn raw(mut self, key: &str, json: &str) -> Object {
        self.key(key).push_str(json);
        self
    }

    pub fn opt_raw(self, key: &str, json: Option<&str>) -> Object {
        match json {
            Some(json) => self.raw(key, json),
            None => self,
        }
    }

    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// A JSON array of values already written as JSON.
pub fn array<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
    out
}

/// `s` as a JSON string: quotes, backslashes and control characters escaped.
pub fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn writes_objects_and_escapes_strings() {
        let inner = Object::new().num("index", 3).finish();
        let json = Object::new()
            .num("node", 2)
            .opt_num("leader", None)
            .decimal("loss", 25_000, 4)
            .decimal("tiny", 7, 4)
            .decimal("whole", 30_000, 4)
            .bool("cut", true)
            .str("text", "a \"b\"\\\n\u{1}⛨")
            .opt_raw("snapshot", Some(&inner))
            .raw("ids", &array(vec!["1", "2"]))
            .finish();
        assert_eq!(
            json,
            r#"{"node":2,"loss":2.5,"tiny":0.0007,"whole":3,"cut":true,"text":"a \"b\"\\\n\u0001⛨","snapshot":{"index":3},"ids":[1,2]}"#
        );
        assert_eq!(Object::new().finish(), "{}");
        assert_eq!(array(Vec::<&str>::new()), "[]");
    }
}
