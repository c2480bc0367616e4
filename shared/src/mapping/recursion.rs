//! Walks jq syntax trees: rejects mappings that define recursive functions, and lists the
//! filters a program calls (so its prelude holds only those). On recursion: jaq evaluates recursion on the native
//! stack, so a deep or endless recursion would overflow it and abort the whole process (one
//! user's mapping taking down the worker); mappings have no need for their own recursion
//! (`recurse`, `walk`, `paths`, `..` cover tree walks).

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::path::Part;

/// The name and arity of the first function defined in `term` that calls itself (directly or
/// through functions defined inside it).
pub fn first_recursive_definition<'s>(term: &Term<&'s str>) -> Option<(&'s str, usize)> {
    let mut found = None;
    visit_term(term, &mut |def: &Def<&'s str, Term<&'s str>>| {
        if found.is_none() && calls(&def.body, def.name, def.args.len()) {
            found = Some((def.name, def.args.len()));
        }
    });
    found
}

/// Calls `on_def` for every definition in `term`, nested ones included.
fn visit_term<'a, 's: 'a>(
    term: &'a Term<&'s str>,
    on_def: &mut impl FnMut(&'a Def<&'s str, Term<&'s str>>),
) {
    for_each_child(term, &mut |child| visit_term(child, on_def));
    if let Term::Def(defs, _) = term {
        for def in defs {
            on_def(def);
        }
    }
}

/// Whether `term` contains a call of `name` with `arity` arguments.
fn calls(term: &Term<&str>, name: &str, arity: usize) -> bool {
    if let Term::Call(called, args) = term
        && *called == name
        && args.len() == arity
    {
        return true;
    }
    let mut found = false;
    for_each_child(term, &mut |child| {
        found = found || calls(child, name, arity)
    });
    found
}

fn for_each_pattern_child<'a, 's: 'a>(
    pattern: &'a Pattern<&'s str>,
    f: &mut impl FnMut(&'a Term<&'s str>),
) {
    match pattern {
        Pattern::Var(_) => {}
        Pattern::Arr(items) => items.iter().for_each(|p| for_each_pattern_child(p, f)),
        Pattern::Obj(entries) => entries.iter().for_each(|(key, p)| {
            f(key);
            for_each_pattern_child(p, f);
        }),
    }
}

/// Every filter name `term` calls (format names such as `@base64` included), for trimming the
/// prelude to what a program uses.
pub fn called_names<'s>(term: &Term<&'s str>, names: &mut std::collections::BTreeSet<&'s str>) {
    match term {
        Term::Call(name, _) => {
            names.insert(name);
        }
        Term::Str(Some(format), _) => {
            names.insert(format);
        }
        _ => {}
    }
    for_each_child(term, &mut |child| called_names(child, names));
}

/// Calls `f` on every direct sub-term of `term` (definition bodies included).
fn for_each_child<'a, 's: 'a>(term: &'a Term<&'s str>, f: &mut impl FnMut(&'a Term<&'s str>)) {
    match term {
        Term::Id | Term::Recurse | Term::Num(_) | Term::Break(_) | Term::Var(_) => {}
        Term::Str(_, parts) => parts.iter().for_each(|part| {
            if let StrPart::Term(t) = part {
                f(t);
            }
        }),
        Term::Arr(inner) => {
            if let Some(t) = inner.as_deref() {
                f(t);
            }
        }
        Term::Obj(entries) => entries.iter().for_each(|(key, value)| {
            f(key);
            value.iter().for_each(&mut *f);
        }),
        Term::Neg(inner) | Term::Label(_, inner) => f(inner),
        Term::BinOp(left, op, right) => {
            f(left);
            if let BinaryOp::Pipe(Some(pattern)) = op {
                for_each_pattern_child(pattern, f);
            }
            f(right);
        }
        Term::Fold(_, source, pattern, args) => {
            f(source);
            for_each_pattern_child(pattern, f);
            args.iter().for_each(&mut *f);
        }
        Term::TryCatch(body, handler) => {
            f(body);
            if let Some(t) = handler.as_deref() {
                f(t);
            }
        }
        Term::IfThenElse(branches, otherwise) => {
            branches.iter().for_each(|(condition, then)| {
                f(condition);
                f(then);
            });
            if let Some(t) = otherwise.as_deref() {
                f(t);
            }
        }
        Term::Def(defs, rest) => {
            defs.iter().for_each(|def| f(&def.body));
            f(rest);
        }
        Term::Call(_, args) => args.iter().for_each(f),
        Term::Path(base, path) => {
            f(base);
            for (part, _) in &path.0 {
                match part {
                    Part::Index(index) => f(index),
                    Part::Range(from, to) => {
                        from.iter().for_each(&mut *f);
                        to.iter().for_each(&mut *f);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jaq_core::load;

    fn recursive(code: &str) -> Option<(String, usize)> {
        let term = load::parse(code, |p| p.term()).expect("parses");
        first_recursive_definition(&term).map(|(name, arity)| (name.to_owned(), arity))
    }

    #[test]
    fn finds_direct_and_nested_recursion() {
        assert_eq!(recursive("def f: 1 + f; f"), Some(("f".to_owned(), 0)));
        assert_eq!(
            recursive("def f(n): if n > 0 then f(n - 1) else 0 end; f(3)"),
            Some(("f".to_owned(), 1))
        );
        assert_eq!(
            recursive("def f: def g: f; g; f"),
            Some(("f".to_owned(), 0))
        );
        assert_eq!(
            recursive("[.[] | {a: (def h: h; h)}]"),
            Some(("h".to_owned(), 0))
        );
    }

    #[test]
    fn accepts_plain_definitions_and_builtins() {
        assert_eq!(recursive("def twice(f): f | f; twice(. + 1)"), None);
        assert_eq!(recursive("def f: 1; def g: f + f; g"), None);
        assert_eq!(recursive("[recurse(.children[]?)] | length"), None);
        assert_eq!(recursive(".a as [$x, {b: $y}] | $x"), None);
    }
}
