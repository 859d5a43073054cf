/**
 * A client-side refusal of SQL that is obviously not a single read: defence in depth for the `sql`
 * check, never the control. What a query may do is decided by the database user whose
 * credentials the Data API reads from the check's secret: make it a read-only user (docs/checks.md).
 * A SELECT can still call a function with side effects, which no text check can rule out.
 *
 * The text is scanned twice, once with PostgreSQL's lexical rules (nested block comments, dollar
 * quotes, no backslash escapes in plain strings) and once with MySQL's (`#` comments, backslash
 * escapes), and refused when either scan finds a problem: a statement hidden from one dialect's
 * reading by a quote or a comment of the other is still seen by the other. The price: a `;` inside
 * a PostgreSQL dollar quote is refused, since MySQL would read it as the end of a statement.
 */

/**
 * Words that make a statement that starts with SELECT or WITH write, lock or run other code:
 * data-modifying CTEs (`WITH x AS (DELETE ...)`), `SELECT ... INTO` (a new table, a file),
 * `FOR UPDATE` and `LOCK IN SHARE MODE` locks, and the obvious others should the text hide a
 * second statement from the first-word rule. Statement-only keywords (COMMIT, VACUUM...) need no
 * entry: a single statement that starts with SELECT or WITH cannot be one, and words that are
 * also common column names (start, comment, load) would only refuse good queries.
 */
const FORBIDDEN_WORDS = new Set([
  "ALTER",
  "CALL",
  "COPY",
  "CREATE",
  "DELETE",
  "DO",
  "DROP",
  "EXEC",
  "EXECUTE",
  "GRANT",
  "INSERT",
  "INTO",
  "LOCK",
  "MERGE",
  "REVOKE",
  "SET",
  "TRUNCATE",
  "UPDATE",
  "UPSERT",
  "VACUUM",
]);

/** Well-known functions with side effects (PostgreSQL, MySQL): a courtesy, not a complete list. */
const FORBIDDEN_FUNCTIONS = new Set([
  "dblink_exec",
  "get_lock",
  "lo_export",
  "lo_import",
  "lo_unlink",
  "nextval",
  "pg_advisory_lock",
  "pg_advisory_xact_lock",
  "pg_cancel_backend",
  "pg_notify",
  "pg_reload_conf",
  "pg_rotate_logfile",
  "pg_terminate_backend",
  "set_config",
  "setval",
]);

const FIRST_WORDS = new Set(["SELECT", "WITH"]);

type Dialect = "postgresql" | "mysql";

/** The code of a statement with strings, quoted identifiers and comments blanked out. */
function codeOf(sql: string, dialect: Dialect): string {
  let code = "";
  let index = 0;
  const at = (offset = 0) => sql[index + offset] ?? "";
  while (index < sql.length) {
    const char = at();
    const next = at(1);
    // MySQL reads `--` as a comment only before whitespace or a control character (DEL included);
    // elsewhere it is two minus signs (`1--1`), where PostgreSQL (and MariaDB in Oracle mode) read
    // a comment: the readings disagree on what follows, so that is refused.
    const after = at(2);
    const mysqlComment = after === "" || after <= " " || after === "\u007f";
    if (char === "-" && next === "-" && dialect === "mysql" && !mysqlComment) {
      code += ` ${DASHES_MARK} `;
      index += 2;
    } else if (char === "-" && next === "-") {
      while (index < sql.length && at() !== "\n") index++;
      code += " ";
    } else if (char === "#" && dialect === "mysql") {
      while (index < sql.length && at() !== "\n") index++;
      code += " ";
    } else if (char === "/" && next === "*" && dialect === "mysql" && /^!|^M!/.test(sql.slice(index + 2))) {
      // MySQL (and MariaDB, `/*M!`) run the body of an executable comment: refuse rather than
      // read it as code with version numbers in front.
      while (index < sql.length && !(at() === "*" && at(1) === "/")) index++;
      index += 2;
      code += ` ${EXECUTABLE_COMMENT_MARK} `;
    } else if (char === "/" && next === "*") {
      let depth = 1;
      index += 2;
      while (index < sql.length && depth > 0) {
        if (at() === "*" && at(1) === "/") {
          depth--;
          index += 2;
        } else if (dialect === "postgresql" && at() === "/" && at(1) === "*") {
          depth++;
          index += 2;
        } else index++;
      }
      code += " ";
    } else if (
      dialect === "postgresql" &&
      /^[Uu]&["']/.test(sql.slice(index)) &&
      !/[A-Za-z0-9_$\u0080-\uffff]/.test(sql[index - 1] ?? "")
    ) {
      // A Unicode-escaped identifier or string (U&"\0073etval" is setval): PostgreSQL decodes the
      // escapes first, so its name cannot be judged from the text. Refused.
      code += ` ${UNICODE_ESCAPE_MARK} `;
      index += 2;
    } else if (char === "'" || char === '"' || char === "`") {
      // Backticks quote MySQL identifiers; PostgreSQL refuses the statement at them, so reading
      // them as quotes there too hides nothing it would run.
      const start = ++index;
      while (index < sql.length) {
        if (dialect === "mysql" && at() === "\\") index += 2;
        else if (at() === char && at(1) === char) index += 2;
        else if (at() === char) break;
        else index++;
      }
      const content = sql.slice(start, index);
      index++;
      if (dialect === "postgresql" && char === "'" && content.includes("\\")) {
        // E'…' strings (and servers without standard_conforming_strings) end a literal at \',
        // where this scan would not: refuse rather than guess where the literal ends.
        code += ` ${BACKSLASH_MARK} `;
      } else if (dialect === "postgresql" && char === '"' && /^\s*\(/.test(sql.slice(index))) {
        // A quoted identifier called as a function names it as well as an unquoted one
        // ("setval"(...)); elsewhere it is a column or table name, whatever its spelling.
        code += ` ${content.replaceAll('""', '"').toLowerCase()} `;
      } else {
        code += " '' ";
      }
    } else if (
      char === "$" &&
      dialect === "postgresql" &&
      // Inside an identifier a `$` opens nothing; PostgreSQL counts every non-ASCII character as
      // an identifier character (`é$$` is one identifier, not é then a dollar quote).
      !/[A-Za-z0-9_$\u0080-\uffff]/.test(sql[index - 1] ?? "")
    ) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(index))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, index + tag.length);
        index = end < 0 ? sql.length : end + tag.length;
        code += " '' ";
      } else {
        code += char;
        index++;
      }
    } else {
      code += char;
      index++;
    }
  }
  return code;
}

/** Stands in the scanned code for a PostgreSQL string literal that holds a backslash. */
const BACKSLASH_MARK = "\u0000backslash\u0000";
/** Stands in the scanned code for `--` that MySQL reads as two minus signs and PostgreSQL as a comment. */
const DASHES_MARK = "\u0000dashes\u0000";
/** Stands in the scanned code for a PostgreSQL Unicode-escaped name or string (`U&"…"`, `U&'…'`). */
const UNICODE_ESCAPE_MARK = "\u0000unicode-escape\u0000";
/** Stands in the scanned code for a MySQL executable comment (a block comment opened by `/*!` or `/*M!`). */
const EXECUTABLE_COMMENT_MARK = "\u0000executable\u0000";

function problemIn(code: string): string | undefined {
  if (code.includes(DASHES_MARK)) {
    return "must write -- only as a comment, with a space after it (PostgreSQL reads --x as a comment, MySQL as two minus signs)";
  }
  if (code.includes(UNICODE_ESCAPE_MARK)) {
    return 'must not use a Unicode-escaped name or string (U&"…"): what it names is only known once decoded';
  }
  if (code.includes(EXECUTABLE_COMMENT_MARK)) {
    return "must not use a MySQL executable comment (/*! … */): MySQL runs what it holds";
  }
  if (code.includes(BACKSLASH_MARK)) {
    return "must not use a backslash inside a string literal (where such a literal ends depends on the server's settings)";
  }
  const statements = code.split(";");
  if (statements.slice(1).some((rest) => rest.trim() !== "")) {
    return "must be a single statement (a `;` may only end it)";
  }
  const words = code.match(/[A-Za-z_][A-Za-z0-9_$]*/g) ?? [];
  const first = words[0]?.toUpperCase();
  if (!first || !FIRST_WORDS.has(first)) {
    return "must be a SELECT (or WITH ... SELECT) query";
  }
  for (const word of words) {
    if (FORBIDDEN_WORDS.has(word.toUpperCase())) return `must only read: it contains ${word.toUpperCase()}`;
  }
  if (/\bFOR\s+(?:KEY\s+)?SHARE\b/i.test(code)) return "must only read: it locks rows (FOR SHARE)";
  for (const match of code.matchAll(/([A-Za-z_][A-Za-z0-9_$]*)\s*\(/g)) {
    const name = (match[1] ?? "").toLowerCase();
    if (FORBIDDEN_FUNCTIONS.has(name)) return `must only read: it calls ${name}(), which writes`;
  }
  return undefined;
}

/**
 * Why `sql` is refused, or undefined when it looks like one read-only SELECT. The reason names a
 * keyword or a rule, never quotes the text.
 */
export function readOnlySqlProblem(sql: string): string | undefined {
  return problemIn(codeOf(sql, "postgresql")) ?? problemIn(codeOf(sql, "mysql"));
}
