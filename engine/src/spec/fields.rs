//! What each action kind's string fields are: plain templates, shell-quoted templates, or
//! expressions the engine evaluates. The compiler and the engine both ask here.

use super::Action;

/// How a string field of an action is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRole {
    /// A template, rendered as text.
    Plain,
    /// A template inside a shell command: each interpolated value becomes one quoted word.
    Shell,
    /// An expression (over `result`, and `value` for a metric) that the action evaluates
    /// when it runs: checked before the run, never rendered.
    Expr,
}

impl Action {
    /// The role of the string at `path`, the keys below the action's own key (`["run"]` for
    /// `shell.run`, `[]` for the whole of `assert`).
    pub fn field_role(&self, path: &[&str]) -> FieldRole {
        match (self, path) {
            (Action::Shell(_), ["run"]) => FieldRole::Shell,
            (Action::Assert(_), _) => FieldRole::Expr,
            // Only the action's own `expect`: a header or a JSON body key may be named so too.
            (Action::Http(_) | Action::Prometheus(_), ["expect"]) => FieldRole::Expr,
            _ => FieldRole::Plain,
        }
    }

    /// The action's expressions (the fields whose role is [`FieldRole::Expr`]), as written.
    pub fn expressions(&self) -> Vec<&str> {
        match self {
            Action::Assert(e) => vec![e.0.as_str()],
            Action::Http(h) => h.expect.as_deref().into_iter().collect(),
            Action::Prometheus(p) => p.expect.as_deref().into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// [`Action::field_role`] of the string at a JSON pointer into the serialized action
    /// (`/shell/run`), the form in which a plan lists an action's run-time templates.
    pub fn field_role_at(&self, pointer: &str) -> FieldRole {
        // The first segment is empty (the pointer starts with `/`), the second the action's key.
        let path: Vec<String> = pointer
            .split('/')
            .skip(2)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        self.field_role(&path)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn action(v: serde_json::Value) -> Action {
        serde_json::from_value(v).expect("a valid action")
    }

    #[test]
    fn only_the_shell_command_is_shell_quoted() {
        let shell = action(json!({ "shell": { "run": "echo {{ params.x }}", "dir": "/tmp", "env": { "run": "x" } } }));
        assert_eq!(shell.field_role(&["run"]), FieldRole::Shell);
        assert_eq!(shell.field_role(&["dir"]), FieldRole::Plain);
        assert_eq!(shell.field_role(&["env", "run"]), FieldRole::Plain);
        let exec = action(json!({ "exec": ["echo", "{{ params.x }}"] }));
        assert_eq!(exec.field_role(&["run"]), FieldRole::Plain);
    }

    #[test]
    fn assert_and_expect_are_expressions() {
        let assert = action(json!({ "assert": "steps.a.value < 1" }));
        assert_eq!(assert.field_role(&[]), FieldRole::Expr);
        let http = action(json!({ "http": { "url": "http://x", "expect": "result.status == 200" } }));
        assert_eq!(http.field_role(&["expect"]), FieldRole::Expr);
        assert_eq!(http.field_role(&["url"]), FieldRole::Plain);
        assert_eq!(http.field_role(&["headers", "expect"]), FieldRole::Plain);
        assert_eq!(http.field_role(&["json", "a", "expect"]), FieldRole::Plain);
        let prom = action(json!({ "prometheus": { "url": "http://p", "query": "up", "expect": "value > 0" } }));
        assert_eq!(prom.field_role(&["expect"]), FieldRole::Expr);
        assert_eq!(prom.field_role(&["query"]), FieldRole::Plain);
        let log = action(json!({ "log": "expect {{ params.x }}" }));
        assert_eq!(log.field_role(&[]), FieldRole::Plain);
    }

    #[test]
    fn expressions_are_the_fields_of_role_expr() {
        let http = action(
            json!({ "http": { "url": "http://x", "expect": "result.status == 200", "headers": { "expect": "x" } } }),
        );
        assert_eq!(http.expressions(), ["result.status == 200"]);
        assert_eq!(http.field_role_at("/http/expect"), FieldRole::Expr);
        let prom = action(json!({ "prometheus": { "url": "http://p", "query": "up", "expect": "value > 0" } }));
        assert_eq!(prom.expressions(), ["value > 0"]);
        assert_eq!(action(json!({ "assert": "true" })).expressions(), ["true"]);
        assert!(
            action(json!({ "http": { "url": "http://x" } }))
                .expressions()
                .is_empty()
        );
        assert!(action(json!({ "shell": "echo {{ x }}" })).expressions().is_empty());
    }

    #[test]
    fn pointers_name_the_same_fields() {
        let shell = action(json!({ "shell": "echo hi" }));
        assert_eq!(shell.field_role_at("/shell/run"), FieldRole::Shell);
        assert_eq!(shell.field_role_at("/shell/dir"), FieldRole::Plain);
        assert_eq!(shell.field_role_at("/shell"), FieldRole::Plain);
        let assert = action(json!({ "assert": "true" }));
        assert_eq!(assert.field_role_at("/assert"), FieldRole::Expr);
        let http = action(json!({ "http": { "url": "http://x", "headers": { "a/b": "x" } } }));
        assert_eq!(http.field_role_at("/http/expect"), FieldRole::Expr);
        assert_eq!(http.field_role_at("/http/headers/a~1b"), FieldRole::Plain);
    }
}
