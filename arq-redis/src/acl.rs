//! Redis ACL refusals (`NOPERM`) turned into errors that say who lacked which right on what.
//!
//! Redis says little: `NOPERM this user has no permissions to access one of the keys used as
//! arguments`, or, from inside a script, `ERR The user executing the script can't run this
//! command or subcommand script: <sha>, on @user_script:16.` This module adds what the caller
//! knows: the ACL user, the command, and the key. For a script it reads the command and the key
//! expression off the script line Redis names, and resolves `KEYS[n]`, `ARGV[n]` and the
//! script's local variables from the call's own keys and arguments, so the text becomes
//!
//! ```text
//! redis user 'w1' lacks permission for ZRANGEBYSCORE on 't1:arq:queue' (NOPERM; script claim.lua, line 16) — see docs/acl.md
//! ```
//!
//! The result is an [`arq_core::Error::Backend`] whose source is a [`PermissionDenied`], so
//! callers can also tell a permission error apart by downcasting.

use arq_core::Error;
use fred::interfaces::ClientLike;
use fred::types::scripts::Script;
use fred::types::{MultipleKeys, MultipleValues, Value};

/// A Redis ACL refusal, as the error source of [`arq_core::Error::Backend`].
///
/// ```
/// let e = arq_redis::PermissionDenied {
///     user: "w1".into(),
///     command: "ZRANGEBYSCORE".into(),
///     keys: vec!["t1:arq:queue".into()],
///     script: None,
///     reply: "NOPERM …".into(),
/// };
/// assert_eq!(
///     e.to_string(),
///     "redis user 'w1' lacks permission for ZRANGEBYSCORE on 't1:arq:queue' (NOPERM) — see docs/acl.md"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionDenied {
    /// The ACL user the connection authenticated as (`default` when none was given).
    pub user: String,
    /// The refused command, upper case (`GET`, `EVALSHA`, `SCRIPT|LOAD`…).
    pub command: String,
    /// The key or keys concerned; several when Redis does not say which one was refused, none
    /// when the command itself is refused and takes no key.
    pub keys: Vec<String>,
    /// The script and line the refused command was called from (`claim.lua, line 16`).
    pub script: Option<String>,
    /// The server's reply, as received.
    pub reply: String,
}

impl std::fmt::Display for PermissionDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "redis user '{}' lacks permission for {}",
            self.user, self.command
        )?;
        match self.keys.as_slice() {
            [] => {}
            [key] => write!(f, " on '{key}'")?,
            keys => {
                let keys: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
                write!(f, " on one of {}", keys.join(", "))?;
            }
        }
        match &self.script {
            Some(script) => write!(f, " (NOPERM; script {script})")?,
            None => write!(f, " (NOPERM)")?,
        }
        write!(f, " — see docs/acl.md")
    }
}

impl std::error::Error for PermissionDenied {}

/// What a failed call was, for the error text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call<'a> {
    /// A plain command (`"GET"`, `"ZMSCORE"`) and the keys it was given.
    Command {
        /// The command name.
        name: &'a str,
        /// Its keys.
        keys: &'a [&'a str],
    },
    /// One of the backend's scripts, called with EVALSHA (SCRIPT LOAD on NOSCRIPT).
    Script {
        /// The script.
        script: &'a Script,
        /// Its KEYS.
        keys: &'a MultipleKeys,
        /// Its ARGV (an array value).
        args: &'a MultipleValues,
    },
}

/// Whether Redis refused the call for want of an ACL permission (`NOPERM`, or the refusal of a
/// command inside a script, which Redis 7.0 reports as `ERR The user executing the script
/// can't…`). fred files these under `ErrorKind::Unknown`, like other error replies; such a
/// call was not applied.
pub fn is_permission_error(e: &fred::error::Error) -> bool {
    let d = e.details();
    d.starts_with("NOPERM")
        || d.contains("The user executing the script can't")
        || d.contains("ACL failure in script")
}

/// Whether nothing of the refused call was applied: Redis refused the command (or `EVALSHA`)
/// before running it. A refusal from inside a script comes after the script's earlier
/// commands, whose writes stay (Redis does not roll a script back).
pub fn refused_before_running(e: &fred::error::Error) -> bool {
    e.details().starts_with("NOPERM")
}

/// The ACL user a client authenticates as.
pub(crate) fn user_of<C: ClientLike>(client: &C) -> String {
    client
        .client_config()
        .username
        .unwrap_or_else(|| "default".to_owned())
}

/// arq's error for a failed script call (see [`map_error`]): `client` is the connection it was
/// sent on (for the user name), `keys` and `args` its KEYS and ARGV.
///
/// Hook for `RedisBackend::eval`:
///
/// ```text
/// let client = self.pool.next();
/// let keys: MultipleKeys = keys.into();
/// let args: MultipleValues = args.try_into().map_err(|e| err(e.into()))?;
/// script
///     .evalsha_with_reload(client, keys.clone(), args.clone())
///     .await
///     .map_err(|e| crate::acl::script_error(e, client, script, &keys, &args))
/// ```
pub(crate) fn script_error<C: ClientLike>(
    e: fred::error::Error,
    client: &C,
    script: &Script,
    keys: &MultipleKeys,
    args: &MultipleValues,
) -> Error {
    if !is_permission_error(&e) {
        return Error::backend(e);
    }
    map_error(e, &user_of(client), Call::Script { script, keys, args })
}

/// arq's error for a failed plain command (see [`map_error`]), e.g.
/// `.map_err(|e| crate::acl::command_error(e, self.pool.next(), "GET", &[&key]))`.
pub(crate) fn command_error<C: ClientLike>(
    e: fred::error::Error,
    client: &C,
    command: &str,
    keys: &[&str],
) -> Error {
    if !is_permission_error(&e) {
        return Error::backend(e);
    }
    map_error(
        e,
        &user_of(client),
        Call::Command {
            name: command,
            keys,
        },
    )
}

/// arq's error for a failed call: a [`PermissionDenied`] when Redis refused it for want of an
/// ACL permission, else the fred error as it is (`Error::backend`).
pub(crate) fn map_error(e: fred::error::Error, user: &str, call: Call<'_>) -> Error {
    match permission_denied(&e, user, call) {
        Some(p) => Error::backend(p),
        None => Error::backend(e),
    }
}

/// The [`PermissionDenied`] of a refused call, or `None` when `e` is another error.
pub(crate) fn permission_denied(
    e: &fred::error::Error,
    user: &str,
    call: Call<'_>,
) -> Option<PermissionDenied> {
    if !is_permission_error(e) {
        return None;
    }
    let reply = e.details().to_string();
    let mut denied = PermissionDenied {
        user: user.to_owned(),
        command: String::new(),
        keys: Vec::new(),
        script: None,
        reply: reply.clone(),
    };
    let named = named_command(&reply);
    match call {
        Call::Command { name, keys } => {
            // Whether Redis refused the command or one of its keys, the key says which
            // pattern the user would need.
            denied.command = named.unwrap_or_else(|| name.to_uppercase());
            denied.keys = keys.iter().map(|k| (*k).to_owned()).collect();
        }
        Call::Script { script, keys, args } => {
            let name = script_name(script);
            let keys: Vec<String> = keys
                .clone()
                .inner()
                .iter()
                .map(|k| k.as_str_lossy().into_owned())
                .collect();
            let args = arg_strings(args);
            let line = script_line(&reply);
            let inside = line.zip(script.lua()).and_then(|(n, lua)| {
                let call = called_on_line(lua, n)?;
                Some((n, call))
            });
            if let Some((n, (command, exprs))) = inside {
                // Refused inside the script: name the command on that line and its key.
                let src = script.lua().map(|l| l.to_string()).unwrap_or_default();
                denied.command = command.to_uppercase();
                denied.keys = exprs
                    .iter()
                    .map(|x| resolve(x, &src, n, &keys, &args))
                    .collect();
                denied.script = Some(format!("{name}.lua, line {n}"));
            } else if let Some(cmd) = named {
                // EVALSHA or SCRIPT LOAD itself was refused.
                denied.command = cmd;
                denied.script = Some(format!("{name}.lua"));
            } else {
                // EVALSHA was refused one of the keys it declares; Redis does not say which.
                denied.command = "EVALSHA".to_owned();
                denied.keys = keys;
                denied.script = Some(format!("{name}.lua"));
            }
        }
    }
    Some(denied)
}

/// The command a top-level refusal names: `… to run the 'script|load' command` -> `SCRIPT|LOAD`.
fn named_command(reply: &str) -> Option<String> {
    let (_, rest) = reply.split_once("to run the '")?;
    let (cmd, _) = rest.split_once('\'')?;
    Some(cmd.to_uppercase())
}

/// The line a script refusal happened on: `… on @user_script:16.` -> 16.
fn script_line(reply: &str) -> Option<usize> {
    let (_, rest) = reply.rsplit_once("@user_script:")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|n| *n > 0)
}

/// The script's name, from its first line (`-- claim: take …` -> `claim`), else its sha.
fn script_name(script: &Script) -> String {
    script
        .lua()
        .and_then(|lua| {
            let first = lua.lines().next()?.strip_prefix("--")?.trim();
            let (name, _) = first.split_once(':')?;
            (!name.is_empty() && !name.contains(' ')).then(|| name.to_owned())
        })
        .unwrap_or_else(|| script.sha1().to_string())
}

/// ARGV as text (`""` for values that are not).
fn arg_strings(args: &Value) -> Vec<String> {
    let one = |v: &Value| v.as_str().map(|s| s.into_owned()).unwrap_or_default();
    match args {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Null => Vec::new(),
        other => vec![one(other)],
    }
}

/// The first `redis.call`/`redis.pcall` on line `n` (1-based) of `lua`: the command, and the
/// expressions of its key arguments.
fn called_on_line(lua: &str, n: usize) -> Option<(String, Vec<String>)> {
    let line = lua.lines().nth(n - 1)?;
    let start = line
        .find("redis.call(")
        .map(|i| i + "redis.call(".len())
        .or_else(|| line.find("redis.pcall(").map(|i| i + "redis.pcall(".len()))?;
    let args = split_args(&line[start..]);
    let mut args = args.into_iter();
    let command = args.next()?;
    let command = command.trim_matches(|c| c == '\'' || c == '"').to_owned();
    let rest: Vec<String> = args.collect();
    let exprs = match command.to_uppercase().as_str() {
        // Commands whose every argument is a key.
        "DEL" | "EXISTS" | "UNLINK" | "MGET" | "TOUCH" => rest,
        // Commands without keys.
        "TIME" | "PING" => Vec::new(),
        _ => rest.into_iter().take(1).collect(),
    };
    Some((command, exprs))
}

/// The comma-separated arguments of a call, up to its closing parenthesis.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '(' | '[' | '{') => {
                depth += 1;
                cur.push(c);
            }
            (None, ')') if depth == 0 => break,
            (None, ')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            (None, ',') if depth == 0 => out.push(std::mem::take(&mut cur)),
            (None, c) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect()
}

/// A Lua key expression made readable: `KEYS[2]` -> the key, `ARGV[7] .. id` ->
/// `t1:arq:in-progress:<id>`, a local variable -> its definition (resolved the same way).
fn resolve(expr: &str, lua: &str, line: usize, keys: &[String], args: &[String]) -> String {
    resolve_depth(expr, lua, line, keys, args, 0)
}

fn resolve_depth(
    expr: &str,
    lua: &str,
    line: usize,
    keys: &[String],
    args: &[String],
    depth: usize,
) -> String {
    let index = |part: &str, table: &str| -> Option<usize> {
        let inner = part
            .strip_prefix(table)?
            .strip_prefix('[')?
            .strip_suffix(']')?;
        inner.trim().parse::<usize>().ok().filter(|i| *i > 0)
    };
    expr.split("..")
        .map(str::trim)
        .map(|part| {
            if let Some(i) = index(part, "KEYS") {
                return keys.get(i - 1).cloned().unwrap_or_else(|| part.to_owned());
            }
            if let Some(i) = index(part, "ARGV") {
                return args.get(i - 1).cloned().unwrap_or_else(|| part.to_owned());
            }
            if part.len() >= 2
                && (part.starts_with('\'') && part.ends_with('\'')
                    || part.starts_with('"') && part.ends_with('"'))
            {
                return part[1..part.len() - 1].to_owned();
            }
            if depth < 4 && is_identifier(part) {
                // A local holding a key name (`local ip = ARGV[7] .. id`) is resolved; one
                // holding data (`local id = due[i]`) is shown by name.
                if let Some(def) = local_definition(lua, line, part)
                    .filter(|d| d.contains("KEYS[") || d.contains("ARGV["))
                {
                    return resolve_depth(&def, lua, line, keys, args, depth + 1);
                }
            }
            format!("<{part}>")
        })
        .collect()
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The expression of `local <name> = <expr>` nearest above line `line`, when it is a single
/// expression (not a list, not a call).
fn local_definition(lua: &str, line: usize, name: &str) -> Option<String> {
    let lines: Vec<&str> = lua.lines().take(line).collect();
    lines.iter().rev().find_map(|l| {
        let rest = l.trim().strip_prefix("local ")?;
        let (lhs, rhs) = rest.split_once('=')?;
        (lhs.trim() == name && !rhs.contains("redis.") && !rhs.contains(','))
            .then(|| rhs.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::error::{Error as FredError, ErrorKind};

    fn reply(s: &str) -> FredError {
        FredError::new(ErrorKind::Unknown, s.to_owned())
    }

    fn keys(k: &[&str]) -> MultipleKeys {
        k.iter().map(|k| (*k).to_owned()).collect()
    }

    fn args(a: &[&str]) -> MultipleValues {
        Value::Array(a.iter().map(|a| Value::from(*a)).collect())
    }

    const CLAIM: &str = "-- claim: take due jobs\n\
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', 5)\n\
        local id = due[1]\n\
        local ip = ARGV[2] .. id\n\
        if redis.call('EXISTS', ip) == 0 then\n\
          local retry_key = ARGV[3] .. id\n\
          redis.call('DEL', retry_key .. ':clean', KEYS[2])\n\
          redis.call('TIME')\n\
        end\n";

    #[test]
    fn top_level_refusals_name_the_command_and_key() {
        let e = reply(
            "NOPERM this user has no permissions to access one of the keys used as arguments",
        );
        let p = permission_denied(
            &e,
            "c1",
            Call::Command {
                name: "get",
                keys: &["t1:arq:job:7"],
            },
        )
        .unwrap();
        assert_eq!(
            p.to_string(),
            "redis user 'c1' lacks permission for GET on 't1:arq:job:7' (NOPERM) — see docs/acl.md"
        );

        let e = reply("NOPERM this user has no permissions to run the 'info' command");
        let p = permission_denied(
            &e,
            "w1",
            Call::Command {
                name: "INFO",
                keys: &[],
            },
        )
        .unwrap();
        assert_eq!(
            p.to_string(),
            "redis user 'w1' lacks permission for INFO (NOPERM) — see docs/acl.md"
        );

        // Not a permission error: left alone.
        let other = reply("WRONGTYPE Operation against a key holding the wrong kind of value");
        let call = Call::Command {
            name: "GET",
            keys: &["k"],
        };
        assert!(permission_denied(&other, "u", call).is_none());
        assert!(matches!(map_error(other, "u", call), Error::Backend(_)));
    }

    #[test]
    fn refusals_inside_a_script_are_read_off_its_line() {
        let script = Script::from_lua(CLAIM);
        let k = keys(&["t1:arq:queue", "t1:arq:abort"]);
        let a = args(&["5", "t1:arq:in-progress:", "t1:arq:retry:"]);
        let call = Call::Script {
            script: &script,
            keys: &k,
            args: &a,
        };
        let on_line = |n: usize, what: &str| {
            reply(&format!(
                "ERR The user executing the script {what} script: {}, on @user_script:{n}.",
                script.sha1()
            ))
        };
        let keys_msg = "can't access at least one of the keys mentioned in the command arguments";
        let cmd_msg = "can't run this command or subcommand";

        let p = permission_denied(&on_line(2, cmd_msg), "w1", call).unwrap();
        assert_eq!(
            p.to_string(),
            "redis user 'w1' lacks permission for ZRANGEBYSCORE on 't1:arq:queue' \
             (NOPERM; script claim.lua, line 2) — see docs/acl.md"
        );
        let p = permission_denied(&on_line(5, keys_msg), "w1", call).unwrap();
        assert_eq!(p.command, "EXISTS");
        assert_eq!(p.keys, ["t1:arq:in-progress:<id>"]);
        let p = permission_denied(&on_line(7, keys_msg), "w1", call).unwrap();
        assert_eq!(p.command, "DEL");
        assert_eq!(p.keys, ["t1:arq:retry:<id>:clean", "t1:arq:abort"]);
        assert!(p.to_string().contains(
            "on one of 't1:arq:retry:<id>:clean', 't1:arq:abort' (NOPERM; script claim.lua, line 7)"
        ));
        let p = permission_denied(&on_line(8, cmd_msg), "w1", call).unwrap();
        assert_eq!((p.command.as_str(), p.keys.len()), ("TIME", 0));

        // EVALSHA refused a declared key: every declared key is named.
        let top = reply(
            "NOPERM this user has no permissions to access one of the keys used as arguments",
        );
        let p = permission_denied(&top, "c1", call).unwrap();
        assert_eq!(
            p.to_string(),
            "redis user 'c1' lacks permission for EVALSHA on one of 't1:arq:queue', \
             't1:arq:abort' (NOPERM; script claim.lua) — see docs/acl.md"
        );
        // SCRIPT LOAD refused (after NOSCRIPT).
        let load = reply("NOPERM this user has no permissions to run the 'script|load' command");
        let p = permission_denied(&load, "c1", call).unwrap();
        assert_eq!(p.command, "SCRIPT|LOAD");
        assert!(p.keys.is_empty());
        // A line Redis names that holds no call (another script version): the declared keys.
        let p = permission_denied(&on_line(3, keys_msg), "c1", call).unwrap();
        assert_eq!(p.command, "EVALSHA");
    }

    #[test]
    fn newer_redis_wordings_are_recognised() {
        for text in [
            "NOPERM User w1 has no permissions to run the 'get' command",
            "NOPERM No permissions to access a key",
            "ERR ACL failure in script: No permissions to access a key script: abc, on @user_script:3.",
        ] {
            assert!(is_permission_error(&reply(text)), "{text}");
        }
        assert!(!is_permission_error(&reply("ERR unknown command")));
        assert_eq!(
            named_command("NOPERM User w1 has no permissions to run the 'get' command"),
            Some("GET".to_owned())
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(
            split_args("'SET', KEYS[1], string.format('%d', now), 'PX', ARGV[4])"),
            [
                "'SET'",
                "KEYS[1]",
                "string.format('%d', now)",
                "'PX'",
                "ARGV[4]"
            ]
        );
        assert_eq!(script_line("x script: abc, on @user_script:42."), Some(42));
        assert_eq!(script_line("NOPERM nothing"), None);
        assert_eq!(
            script_name(&Script::from_lua("-- enqueue: add\n")),
            "enqueue"
        );
        let anonymous = Script::from_lua("return 1");
        assert_eq!(script_name(&anonymous), anonymous.sha1().to_string());
        assert_eq!(arg_strings(&Value::Null), Vec::<String>::new());
    }
}
