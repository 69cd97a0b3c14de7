//! The grammar a local model's tool call must follow, checked character by character while
//! decoding: `{"name": "<a tool>", "arguments": {"<param>": <value>, ...}}` with the tool's
//! declared parameter names only, values of the declared type (string, enum, number,
//! integer, boolean), each parameter at most once, and the object closable only once every
//! required parameter is present. A decoder tries candidate tokens best first and takes the
//! first one the grammar accepts, so whatever the model emits parses and names a real tool.

use serde_json::Value;
use vox_core::ToolSpec;

const MAX_STRING: usize = 300;
const MAX_NUMBER: usize = 18;

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    String,
    Enum(Vec<String>),
    Number { integer: bool },
    Boolean,
}

#[derive(Debug, Clone)]
struct Param {
    name: String,
    kind: Kind,
    required: bool,
}

#[derive(Debug, Clone)]
struct Tool {
    name: String,
    params: Vec<Param>,
}

/// The tools a call may name, with their parameters.
#[derive(Debug, Clone)]
pub struct ToolGrammar {
    tools: Vec<Tool>,
}

impl ToolGrammar {
    /// From the tools' JSON Schemas. Parameters of other types (objects, arrays) are taken
    /// as strings: a small model fills flat arguments far more reliably.
    pub fn new(specs: &[ToolSpec]) -> Self {
        let tools = specs
            .iter()
            .map(|s| {
                let required: Vec<&str> = s
                    .parameters
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let params = s
                    .parameters
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|props| {
                        props
                            .iter()
                            .map(|(name, schema)| {
                                let enums: Option<Vec<String>> =
                                    schema.get("enum").and_then(Value::as_array).map(|a| {
                                        a.iter()
                                            .filter_map(Value::as_str)
                                            .map(str::to_owned)
                                            .collect()
                                    });
                                let kind = match (enums, schema.get("type").and_then(Value::as_str))
                                {
                                    (Some(e), _) if !e.is_empty() => Kind::Enum(e),
                                    (_, Some("number")) => Kind::Number { integer: false },
                                    (_, Some("integer")) => Kind::Number { integer: true },
                                    (_, Some("boolean")) => Kind::Boolean,
                                    _ => Kind::String,
                                };
                                Param {
                                    name: name.clone(),
                                    kind,
                                    required: required.contains(&name.as_str()),
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Tool {
                    name: s.name.clone(),
                    params,
                }
            })
            .collect();
        Self { tools }
    }

    /// A checker at the start of a call.
    pub fn start(&self) -> Checker<'_> {
        Checker {
            g: self,
            state: State::Lit("{\"name\": \"", Box::new(State::Name(String::new()))),
            tool: None,
            used: Vec::new(),
            list: false,
        }
    }

    /// A checker just inside a list of at most one call: `]` (no call) or `{...}` then `]`.
    /// Newlines and spaces are allowed around the call.
    pub fn start_list(&self) -> Checker<'_> {
        Checker {
            g: self,
            state: State::ListOpen,
            tool: None,
            used: Vec::new(),
            list: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    /// These exact characters, then the boxed state.
    Lit(&'static str, Box<State>),
    /// Inside the tool's name.
    Name(String),
    /// Just after `{` of the arguments or after a value: `}` or the next key.
    ArgsNext {
        first: bool,
    },
    /// Inside a key.
    Key(String),
    /// Before a value of this kind.
    Value(Kind),
    /// Inside a string value; `escape` after a backslash.
    Str {
        len: usize,
        escape: bool,
        options: Option<Vec<String>>,
        text: String,
    },
    Number {
        text: String,
        integer: bool,
    },
    Bool(String),
    /// After the arguments' `}`: the outer `}`.
    Close,
    /// Inside `[`: a call or `]`.
    ListOpen,
    /// After the call: `]`.
    ListClose,
    Done,
}

/// Checks a tool call's text as it grows.
#[derive(Debug, Clone)]
pub struct Checker<'g> {
    g: &'g ToolGrammar,
    state: State,
    tool: Option<usize>,
    used: Vec<String>,
    list: bool,
}

impl Checker<'_> {
    /// The name of the tool called, once known.
    pub fn tool_name(&self) -> Option<&str> {
        self.tool().map(|t| t.name.as_str())
    }

    /// Whether the call is complete.
    pub fn done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds `text`; false (leaving the checker in an unspecified state) if the grammar
    /// rejects it.
    pub fn feed(&mut self, text: &str) -> bool {
        text.chars().all(|c| self.push(c))
    }

    /// The text the grammar allows as the only continuation from here (the rest of a
    /// literal, of the one tool or key name a prefix still matches, closing brackets when
    /// nothing else may follow). Feeding it is "jump-forward" decoding: the model need not
    /// spell what has only one spelling.
    pub fn forced(&self) -> String {
        let mut probe = self.clone();
        let mut out = String::new();
        while let Some(c) = probe.only_next() {
            if !probe.push(c) {
                break;
            }
            out.push(c);
        }
        out
    }

    /// The one character allowed next, if there is exactly one.
    fn only_next(&self) -> Option<char> {
        fn unique<'a>(prefix: &str, names: impl Iterator<Item = &'a str>) -> Option<char> {
            let mut next: Option<char> = None;
            for n in names.filter(|n| n.starts_with(prefix)) {
                let c = n[prefix.len()..].chars().next().unwrap_or('"');
                if next.is_some_and(|x| x != c) {
                    return None;
                }
                next = Some(c);
            }
            next
        }
        match &self.state {
            State::Lit(l, _) => l.chars().next(),
            State::Name(s) => unique(s, self.g.tools.iter().map(|t| t.name.as_str())),
            State::Key(s) => unique(s, self.unused_keys().into_iter()),
            State::Str {
                escape: false,
                options: Some(o),
                text,
                ..
            } => unique(text, o.iter().map(String::as_str)),
            State::Value(Kind::String | Kind::Enum(_)) => Some('"'),
            State::ArgsNext { first } => {
                let unused = !self.unused_keys().is_empty();
                match (unused, self.may_close_args()) {
                    (false, true) => Some('}'),
                    (true, false) => Some(if *first { '"' } else { ',' }),
                    _ => None,
                }
            }
            State::Close => Some('}'),
            State::ListClose => Some(']'),
            _ => None,
        }
    }

    fn tool(&self) -> Option<&Tool> {
        self.tool.and_then(|i| self.g.tools.get(i))
    }

    fn may_close_args(&self) -> bool {
        self.tool().is_some_and(|t| {
            t.params
                .iter()
                .filter(|p| p.required)
                .all(|p| self.used.contains(&p.name))
        })
    }

    fn unused_keys(&self) -> Vec<&str> {
        self.tool()
            .map(|t| {
                t.params
                    .iter()
                    .filter(|p| !self.used.contains(&p.name))
                    .map(|p| p.name.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn push(&mut self, c: char) -> bool {
        let state = std::mem::replace(&mut self.state, State::Done);
        let next = match state {
            State::Lit(lit, then) => {
                let mut it = lit.chars();
                if it.next() != Some(c) {
                    return false;
                }
                let rest = it.as_str();
                if rest.is_empty() {
                    *then
                } else {
                    State::Lit(rest, then)
                }
            }
            State::Name(mut s) => {
                if c == '"' {
                    let Some(i) = self.g.tools.iter().position(|t| t.name == s) else {
                        return false;
                    };
                    self.tool = Some(i);
                    State::Lit(
                        ", \"arguments\": {",
                        Box::new(State::ArgsNext { first: true }),
                    )
                } else {
                    s.push(c);
                    if !self.g.tools.iter().any(|t| t.name.starts_with(&s)) {
                        return false;
                    }
                    State::Name(s)
                }
            }
            State::ArgsNext { first } => match c {
                '}' if self.may_close_args() => State::Close,
                '"' if first && !self.unused_keys().is_empty() => State::Key(String::new()),
                ',' if !first && !self.unused_keys().is_empty() => {
                    State::Lit(" \"", Box::new(State::Key(String::new())))
                }
                _ => return false,
            },
            State::Key(mut s) => {
                if c == '"' {
                    let Some(kind) = self
                        .tool()
                        .and_then(|t| t.params.iter().find(|p| p.name == s))
                        .map(|p| p.kind.clone())
                    else {
                        return false;
                    };
                    if self.used.contains(&s) {
                        return false;
                    }
                    self.used.push(s);
                    State::Lit(": ", Box::new(State::Value(kind)))
                } else {
                    s.push(c);
                    if !self.unused_keys().iter().any(|k| k.starts_with(&s)) {
                        return false;
                    }
                    State::Key(s)
                }
            }
            State::Value(kind) => match kind {
                Kind::String if c == '"' => State::Str {
                    len: 0,
                    escape: false,
                    options: None,
                    text: String::new(),
                },
                Kind::Enum(options) if c == '"' => State::Str {
                    len: 0,
                    escape: false,
                    options: Some(options),
                    text: String::new(),
                },
                Kind::Number { integer } if c == '-' || c.is_ascii_digit() => State::Number {
                    text: c.to_string(),
                    integer,
                },
                Kind::Boolean if c == 't' || c == 'f' => State::Bool(c.to_string()),
                _ => return false,
            },
            State::Str {
                len,
                escape,
                options,
                mut text,
            } => {
                if escape {
                    if !"\"\\/bfnrt".contains(c) || options.is_some() {
                        return false;
                    }
                    State::Str {
                        len: len + 1,
                        escape: false,
                        options,
                        text,
                    }
                } else if c == '"' {
                    if let Some(opts) = &options
                        && !opts.contains(&text)
                    {
                        return false;
                    }
                    State::ArgsNext { first: false }
                } else if c == '\\' && options.is_none() {
                    State::Str {
                        len: len + 1,
                        escape: true,
                        options,
                        text,
                    }
                } else if c.is_control() || len >= MAX_STRING {
                    return false;
                } else {
                    text.push(c);
                    if let Some(opts) = &options
                        && !opts.iter().any(|o| o.starts_with(&text))
                    {
                        return false;
                    }
                    State::Str {
                        len: len + 1,
                        escape: false,
                        options,
                        text,
                    }
                }
            }
            State::Number { mut text, integer } => {
                let complete = text.chars().last().is_some_and(|l| l.is_ascii_digit());
                let digit =
                    c.is_ascii_digit() && text.len() < MAX_NUMBER && text != "0" && text != "-0";
                let point = c == '.' && !integer && complete && !text.contains('.');
                if digit || point {
                    text.push(c);
                    State::Number { text, integer }
                } else if complete && (c == ',' || c == '}') {
                    // the number ends; the character belongs to what follows
                    self.state = State::ArgsNext { first: false };
                    return self.push(c);
                } else {
                    return false;
                }
            }
            State::Bool(mut s) => {
                s.push(c);
                if s == "true" || s == "false" {
                    State::ArgsNext { first: false }
                } else if "true".starts_with(&s) || "false".starts_with(&s) {
                    State::Bool(s)
                } else {
                    return false;
                }
            }
            State::Close => {
                if c != '}' {
                    return false;
                }
                if self.list {
                    State::ListClose
                } else {
                    State::Done
                }
            }
            State::ListOpen => match c {
                ']' => State::Done,
                '{' => State::Lit("\"name\": \"", Box::new(State::Name(String::new()))),
                ' ' | '\n' => State::ListOpen,
                _ => return false,
            },
            State::ListClose => match c {
                ']' => State::Done,
                ' ' | '\n' => State::ListClose,
                _ => return false,
            },
            State::Done => return false,
        };
        self.state = next;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grammar() -> ToolGrammar {
        ToolGrammar::new(&[
            ToolSpec {
                name: "scheduleAppointment".into(),
                description: String::new(),
                parameters: json!({"type": "object", "properties": {"name": {"type": "string"}, "day": {"type": "string", "enum": ["monday", "tuesday"]}, "guests": {"type": "integer"}, "confirmed": {"type": "boolean"}}, "required": ["name", "day"]}),
            },
            ToolSpec {
                name: "endCall".into(),
                description: String::new(),
                parameters: json!({"type": "object", "properties": {}}),
            },
        ])
    }

    fn accepts(text: &str) -> (bool, bool) {
        let g = grammar();
        let mut c = g.start();
        let ok = c.feed(text);
        (ok, ok && c.done())
    }

    #[test]
    fn accepts_well_formed_calls() {
        assert_eq!(
            accepts(r#"{"name": "endCall", "arguments": {}}"#),
            (true, true)
        );
        assert_eq!(
            accepts(
                r#"{"name": "scheduleAppointment", "arguments": {"day": "monday", "name": "Ann \"Jo\"", "guests": 12, "confirmed": false}}"#
            ),
            (true, true)
        );
        // prefixes are accepted but not done
        assert_eq!(accepts(r#"{"name": "sched"#), (true, false));
        assert_eq!(
            accepts(r#"{"name": "scheduleAppointment", "arguments": {"day": "tu"#),
            (true, false)
        );
    }

    #[test]
    fn rejects_what_would_not_parse_or_match_the_tools() {
        for bad in [
            r#"{"name": "bookTable""#,                            // unknown tool
            r#"{"name": "endCall", "arguments": {"x"#,            // endCall has no parameters
            r#"{"name": "scheduleAppointment", "arguments": {}"#, // required missing
            r#"{"name": "scheduleAppointment", "arguments": {"day": "friday""#, // not in the enum
            r#"{"name": "scheduleAppointment", "arguments": {"guests": "two""#, // not an integer
            r#"{"name": "scheduleAppointment", "arguments": {"guests": 1.5"#, // not an integer
            r#"{"name": "scheduleAppointment", "arguments": {"guests": 01"#, // leading zero
            r#"{"name": "scheduleAppointment", "arguments": {"name": "a", "name": "b""#, // twice
            r#"{"name": "scheduleAppointment", "arguments": {"confirmed": yes"#, // not a boolean
            r#"{"name": "endCall", "arguments": {}}}"#,           // trailing
            "{\"name\": \"scheduleAppointment\", \"arguments\": {\"name\": \"a\nb\"", // raw newline
        ] {
            assert!(!accepts(bad).0, "accepted {bad}");
        }
    }

    #[test]
    fn forces_what_has_only_one_spelling() {
        let g = grammar();
        let mut c = g.start();
        assert_eq!(c.forced(), "{\"name\": \"");
        assert!(c.feed("{\"name\": \"s"));
        assert_eq!(c.forced(), "cheduleAppointment\", \"arguments\": {\"");
        assert!(c.feed("cheduleAppointment\", \"arguments\": {\"d"));
        assert_eq!(c.forced(), "ay\": \"");
        assert!(c.feed("ay\": \"tu"));
        assert_eq!(
            c.forced(),
            "esday\", \"",
            "then a comma: the required name is missing"
        );
        let mut c = g.start();
        assert!(c.feed("{\"name\": \"e"));
        assert_eq!(c.forced(), "ndCall\", \"arguments\": {}}");
        assert!(
            !g.start()
                .feed("{\"name\": \"scheduleAppointment\", \"arguments\": {\"day\": \"tue\\"),
            "no escapes in an enum"
        );
    }

    #[test]
    fn a_list_holds_no_call_or_one() {
        let g = grammar();
        for (text, done, tool) in [
            ("]", true, None),
            ("\n]", true, None),
            (
                "{\"name\": \"endCall\", \"arguments\": {}}\n]",
                true,
                Some("endCall"),
            ),
            (
                "{\"name\": \"endCall\", \"arguments\": {}}",
                false,
                Some("endCall"),
            ),
        ] {
            let mut c = g.start_list();
            assert!(c.feed(text), "{text}");
            assert_eq!(c.done(), done, "{text}");
            assert_eq!(c.tool_name(), tool);
        }
        let mut c = g.start_list();
        assert!(
            !c.feed("{\"name\": \"endCall\", \"arguments\": {}}, {"),
            "one call at most"
        );
        assert!(!g.start_list().feed("x"));
    }

    #[test]
    fn every_complete_call_is_json_naming_a_tool() {
        let text = r#"{"name": "scheduleAppointment", "arguments": {"name": "Ann", "day": "monday", "guests": -3}}"#;
        assert_eq!(accepts(text), (true, true));
        let v: Value = serde_json::from_str(text).expect("json");
        assert_eq!(v["arguments"]["guests"], -3);
    }
}
