//! The jq engine's tests: the shortcuts agree with the interpreter, the prelude loads and is cut
//! to what a program calls, and the sandbox and global variables behave.

use std::collections::BTreeMap;

use jaq_core::load;
use jaq_json::Val;
use serde_json::{Value, json};

use super::prelude::{compat_defs, full_prelude, prelude_for};
use super::shortcuts::{concat_form, plain_path};
use super::*;
use crate::mapping::value::{json_to_val, val_to_json};

#[test]
fn plain_paths_take_the_fast_path_and_agree_with_the_interpreter() {
    assert!(plain_path(".").is_some_and(|p| p.is_empty()));
    assert_eq!(plain_path(".commit.sha").map(|p| p.len()), Some(2));
    for not_plain in [
        ".a[0]",
        ".a?",
        ".\"a b\"",
        ".a | .b",
        "..",
        ".a.",
        ".1a",
        ".a-b",
        "$x",
        ".a.b // 1",
    ] {
        assert!(plain_path(not_plain).is_none(), "{not_plain}");
    }
    let inputs = [
        json!({"a": {"b": 1}}),
        json!({"a": null}),
        json!({"a": 5}),
        json!({}),
        json!(null),
        json!([1]),
        json!({"a": {"b": [1, {"c": 2}]}}),
    ];
    assert_eq!(concat_form(r#".a + "-" + .b"#).map(|p| p.len()), Some(3));
    for not_concat in [
        ".a",
        r#".a + "\\n""#,
        r#".a + "x"#,
        ".a - .b",
        ".a + .b[0]",
        r#""a+b""#,
    ] {
        assert!(concat_form(not_concat).is_none(), "{not_concat}");
    }
    let inputs = [
        inputs.as_slice(),
        &[
            json!({"a": "x", "b": "y"}),
            json!({"a": null, "b": "y"}),
            json!({"a": null, "b": null}),
            json!({"a": 1, "b": "y"}),
            json!({"a": "x", "b": [1]}),
            json!({"a": {"b": "ü+"}, "b": "y"}),
            json!({"b": "r", "n": 42}),
            json!({"b": "r", "n": -7}),
            json!({"b": "r", "n": 1.5}),
            json!({"b": "r", "n": 1e21}),
            json!({"b": "r", "n": 9007199254740993u64}),
            json!({"b": "r", "n": null}),
            json!({"a": {"b": 3}, "n": [1]}),
            json!({"a": false, "b": "y", "x": false}),
            json!({"a": "", "b": "y", "x": null}),
            json!({"a": {"b": false}, "n": false}),
        ],
    ]
    .concat();
    for code in [
        ".",
        ".a",
        ".a.b",
        ".a.b.c",
        ".__repository",
        r#".a + "-" + .b"#,
        ".a + .b",
        r#""p/" + .a.b"#,
        r#".a+"+""#,
    ] {
        let fast = JqProgram::compile(code, &JqOptions::default()).unwrap();
        // The same expression, forced through the interpreter.
        let slow = JqProgram::compile(&format!("({code})"), &JqOptions::default()).unwrap();
        assert!(
            (fast.path.is_some() || fast.concat.is_some())
                && slow.path.is_none()
                && slow.concat.is_none()
        );
        for input in &inputs {
            let a = fast
                .first(json_to_val(input))
                .map(|v| v.map(|v| val_to_json(&v)));
            let b = slow
                .first(json_to_val(input))
                .map(|v| v.map(|v| val_to_json(&v)));
            assert_eq!(a, b, "{code} on {input}");
        }
    }
}

fn run(code: &str, input: Value) -> Result<Vec<Value>, String> {
    let program = JqProgram::compile(code, &JqOptions::default()).map_err(|e| e.to_string())?;
    program
        .all(json_to_val(&input))
        .map(|values| values.iter().map(val_to_json).collect())
}

#[test]
fn compiled_programs_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<JqProgram>();
}

#[test]
fn the_prelude_parses() {
    assert!(compat_defs().is_some());
    assert!(full_prelude().is_ok());
}

#[test]
fn the_prelude_holds_only_what_a_program_reaches() {
    let parse = |code| load::parse(code, |p| p.term()).expect("parses");
    assert!(prelude_for(Some(&parse(".a"))).expect("prelude").is_empty());
    let names: Vec<_> = prelude_for(Some(&parse("to_entries | map(.key)")))
        .expect("prelude")
        .iter()
        .map(|d| d.name)
        .collect();
    assert!(
        names.contains(&"to_entries") && names.contains(&"map"),
        "{names:?}"
    );
    assert!(!names.contains(&"walk"), "{names:?}");
    assert_eq!(
        run("@base64 \"x\\(.)\"", json!("hi")),
        Ok(vec![json!("xaGk=")])
    );
}

#[test]
fn env_is_empty_unless_allowed() {
    // SAFETY-free check: the test process certainly has PATH set.
    assert_eq!(run("env", json!(null)), Ok(vec![json!({})]));
    assert_eq!(run("$ENV", json!(null)), Ok(vec![json!({})]));
    let options = JqOptions {
        env_allow_list: BTreeMap::from([("STAGE".to_owned(), "prod".to_owned())]),
    };
    let program =
        JqProgram::compile("$ENV.STAGE, env.STAGE, $ENV.PATH", &options).expect("compiles");
    let out: Vec<Value> = program
        .all(Val::Null)
        .expect("runs")
        .iter()
        .map(val_to_json)
        .collect();
    assert_eq!(out, vec![json!("prod"), json!("prod"), json!(null)]);
}

#[test]
fn nothing_reaches_the_process() {
    assert!(run("halt", json!(1)).is_err());
    assert!(run("halt_error", json!("bye")).is_err());
    assert!(run("\"x\" | halt_error(1)", json!(null)).is_err());
    assert_eq!(run("debug | stderr | . + 1", json!(1)), Ok(vec![json!(2)]));
    assert!(run("input", json!(1)).is_err());
    assert_eq!(run("[inputs]", json!(1)), Ok(vec![json!([])]));
    assert!(JqProgram::compile("import \"x\" as x; .", &JqOptions::default()).is_err());
    assert!(JqProgram::compile("$__prog_args", &JqOptions::default()).is_err());
    // Endless recursion would overflow the native stack and abort the process.
    assert_eq!(
        JqProgram::compile("def f: 1 + f; f", &JqOptions::default()).map(|_| ()),
        Err(JqCompileError::Recursive {
            name: "f".to_owned(),
            arity: 0
        })
    );
    assert_eq!(
        run("$__loc__", json!(null)),
        Ok(vec![json!({"file": "<top-level>", "line": 1})])
    );
}

#[test]
fn scalar_literals_are_constants() {
    let options = JqOptions::default();
    let literal = JqProgram::compile(" \"githubUser\" ", &options).expect("compiles");
    assert_eq!(literal.constant(), Some(&json!("githubUser")));
    assert_eq!(
        JqProgram::compile("true", &options)
            .expect("compiles")
            .constant(),
        Some(&json!(true))
    );
    assert_eq!(
        JqProgram::compile(".a", &options)
            .expect("compiles")
            .constant(),
        None
    );
    assert_eq!(
        JqProgram::compile("[1]", &options)
            .expect("compiles")
            .constant(),
        None
    );
}

#[test]
fn syntax_errors_say_where() {
    let error = JqProgram::compile(".a | ", &JqOptions::default()).expect_err("invalid");
    assert!(matches!(error, JqCompileError::Syntax { .. }), "{error}");
    let error = JqProgram::compile("nosuchfilter(1)", &JqOptions::default()).expect_err("invalid");
    assert_eq!(
        error,
        JqCompileError::Undefined {
            what: "filter",
            name: "nosuchfilter/1".to_owned()
        }
    );
}

#[test]
fn port_default_regexes_and_dates_work() {
    let creator = r#"gsub("\\["; "-") | gsub("\\](?=[^$])"; "-") | gsub("\\]$"; "")"#;
    assert_eq!(
        run(creator, json!("dependabot[bot]")),
        Ok(vec![json!("dependabot-bot")])
    );
    let lead = r#"sub("\\..*Z$"; "Z") | strptime("%Y-%m-%dT%H:%M:%SZ") | mktime"#;
    assert_eq!(
        run(lead, json!("2015-03-05T23:51:47.123Z")),
        Ok(vec![json!(1425599507)])
    );
}
