import { describe, expect, it } from "vitest";
import { readOnlySqlProblem } from "#monitors/support/read-only-sql.ts";

describe("readOnlySqlProblem (defence in depth; the read-only database user is the control)", () => {
  it.each([
    "SELECT count(*) FROM orders WHERE created_at > now() - interval '1 day'",
    "select 1",
    "SELECT 1;",
    "SELECT 1 ;  \n",
    "(SELECT max(id) FROM t)",
    "WITH recent AS (SELECT * FROM orders) SELECT count(*) AS n FROM recent",
    // Forbidden words inside strings, quoted identifiers and comments are data, not code.
    "SELECT count(*) FROM audit WHERE action = 'DELETE' -- no DROP here\n",
    'SELECT "update", "into" FROM t /* INSERT */',
    "SELECT `delete` FROM t",
    "SELECT $tag$ it's ; UPDATE $tag$",
    "SELECT 'it''s; fine'",
    // Column names that contain a forbidden word are not that word.
    "SELECT updated_at, insert_count, settings FROM t",
    "SELECT replace(name, 'a', 'b') FROM t",
    // An identifier that ends in u, then & (bitwise and) and a quoted name: no Unicode escape.
    'SELECT menu&"flags" FROM t',
  ])("accepts %j", (sql) => {
    expect(readOnlySqlProblem(sql)).toBeUndefined();
  });

  it.each([
    ["DELETE FROM orders", "must be a SELECT (or WITH ... SELECT) query"],
    ["UPDATE t SET a = 1", "must be a SELECT (or WITH ... SELECT) query"],
    ["EXPLAIN ANALYZE DELETE FROM t", "must be a SELECT (or WITH ... SELECT) query"],
    ["", "must be a SELECT (or WITH ... SELECT) query"],
    ["-- only a comment", "must be a SELECT (or WITH ... SELECT) query"],
    ["SELECT 1; SELECT 2", "must be a single statement (a `;` may only end it)"],
    ["SELECT 1; DROP TABLE t", "must be a single statement (a `;` may only end it)"],
    [
      "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone",
      "must only read: it contains DELETE",
    ],
    ["SELECT * INTO backup FROM t", "must only read: it contains INTO"],
    ["SELECT * FROM t INTO OUTFILE '/tmp/x'", "must only read: it contains INTO"],
    ["SELECT * FROM t FOR UPDATE", "must only read: it contains UPDATE"],
    ["SELECT * FROM t FOR NO KEY UPDATE", "must only read: it contains UPDATE"],
    ["SELECT * FROM t FOR SHARE", "must only read: it locks rows (FOR SHARE)"],
    ["SELECT * FROM t LOCK IN SHARE MODE", "must only read: it contains LOCK"],
    ["SELECT nextval('order_seq')", "must only read: it calls nextval(), which writes"],
    ["SELECT set_config('role', 'admin', false)", "must only read: it calls set_config(), which writes"],
    ["SELECT pg_terminate_backend (42)", "must only read: it calls pg_terminate_backend(), which writes"],
    // A statement hidden from one dialect's reading is seen by the other's.
    [
      "SELECT E'\\''; DROP TABLE t; --'",
      "must not use a backslash inside a string literal (where such a literal ends depends on the server's settings)",
    ],
    [
      "SELECT 'x\\''; DROP TABLE t; --'",
      "must not use a backslash inside a string literal (where such a literal ends depends on the server's settings)",
    ],
    // E-strings end at \' where a MySQL reading hides the rest behind #: refused, not guessed.
    [
      "SELECT length(E'\\'') # setval(42::regclass, 1)::int --'",
      "must not use a backslash inside a string literal (where such a literal ends depends on the server's settings)",
    ],
    ["SELECT \"setval\"('s', 1)", "must only read: it calls setval(), which writes"],
    ["SELECT $$'$$; DROP TABLE t; --'", "must be a single statement (a `;` may only end it)"],
    // The price of reading both ways: a `;` in a dollar quote ends a statement for MySQL.
    ["SELECT $$ ; DROP TABLE x $$ AS s", "must be a single statement (a `;` may only end it)"],
    ["SELECT 1 # 2; DROP TABLE t", "must be a single statement (a `;` may only end it)"],
    [
      "SELECT 1--1; DROP TABLE t",
      "must write -- only as a comment, with a space after it (PostgreSQL reads --x as a comment, MySQL as two minus signs)",
    ],
    // DEL is a control character: MySQL reads a comment there too, where the rest hid the INTO.
    ["SELECT 1 --\u007f '\n/* /* */ INTO OUTFILE '/tmp/x' -- */", "must only read: it contains INTO"],
    // Two minus signs for MySQL, a comment for PostgreSQL (and MariaDB in Oracle mode).
    [
      "SELECT 1 --'\n/* /* */ INTO OUTFILE '/tmp/x' -- */",
      "must write -- only as a comment, with a space after it (PostgreSQL reads --x as a comment, MySQL as two minus signs)",
    ],
    ["SELECT 1 /* /* */ ; DROP TABLE t /* */", "must be a single statement (a `;` may only end it)"],
    // PostgreSQL: a non-ASCII letter is an identifier character, so `é$$` opens no dollar quote,
    // and the string after it is seen (a backslash in it hid the DELETE from the MySQL reading).
    // This ran a DELETE on PostgreSQL 15 when the scan read a dollar quote there.
    [
      "WITH é$$ AS (SELECT '\\'), d AS (DELETE FROM orders RETURNING 1) SELECT '$$' FROM d",
      "must not use a backslash inside a string literal (where such a literal ends depends on the server's settings)",
    ],
    // PostgreSQL decodes U&"…" before it knows the name: U&"\0073etval" is setval (it wrote a
    // sequence on PostgreSQL 15 past the name check).
    [
      "SELECT U&\"\\0073etval\"('s', 1)",
      'must not use a Unicode-escaped name or string (U&"…"): what it names is only known once decoded',
    ],
    [
      "SELECT u&\"!0073etval\" UESCAPE '!'('s', 1)",
      'must not use a Unicode-escaped name or string (U&"…"): what it names is only known once decoded',
    ],
    // MySQL: `--` before a no-break space is no comment, so what follows is code.
    [
      "SELECT 1 --\u00a0 INTO OUTFILE '/tmp/x'",
      "must write -- only as a comment, with a space after it (PostgreSQL reads --x as a comment, MySQL as two minus signs)",
    ],
    // MySQL runs the body of an executable comment.
    [
      "SELECT * FROM customers /*!50000 INTO OUTFILE S3 's3://attacker/x' */",
      "must not use a MySQL executable comment (/*! … */): MySQL runs what it holds",
    ],
    [
      "SELECT * FROM t /*! FOR UPDATE */",
      "must not use a MySQL executable comment (/*! … */): MySQL runs what it holds",
    ],
    [
      "SELECT * FROM t /*M!100000 FOR UPDATE */",
      "must not use a MySQL executable comment (/*! … */): MySQL runs what it holds",
    ],
  ])("refuses %j: %s", (sql, problem) => {
    expect(readOnlySqlProblem(sql)).toBe(problem);
  });

  it("never quotes the statement in its reason", () => {
    const problem = readOnlySqlProblem("SELECT 'sk_live_secret' INTO x FROM t");
    expect(problem).toBeDefined();
    expect(problem).not.toContain("sk_live");
  });
});
