"""Python clients against the dpg coordinator, driven by test/clients/python.test.ts.

Usage: python3 python_client.py asyncpg|asyncpg-pipeline|psycopg2 < input.json > output.json

The input names the URL, namespaces on each worker group, the vectors to store and
the query vectors. The script runs each step with the client and records what it
observed (rows, SQLSTATEs, timings); the TypeScript test checks the observations.
Run with Debian's /usr/bin/python3 (asyncpg and psycopg2 from Debian packages).
"""

import asyncio
import json
import sys
import time
import traceback

SEARCH_ONE = (
    "SELECT namespace, key, value, 1 - (embedding <=> {q}::ruvector) AS similarity "
    "FROM memory_entries WHERE namespace = {ns} ORDER BY embedding <=> {q}::ruvector LIMIT 10"
)
SEARCH_MANY = (
    "SELECT namespace, key, value, 1 - (embedding <=> {q}::ruvector) AS similarity "
    "FROM memory_entries WHERE namespace = ANY({nss}) ORDER BY embedding <=> {q}::ruvector LIMIT 20"
)


def search_rows(rows):
    return [{"namespace": r[0], "key": r[1], "value": r[2], "similarity": float(r[3])} for r in rows]


class Recorder:
    def __init__(self):
        self.steps = {}

    def put(self, name, value):
        self.steps[name] = value

    def error(self, name, exc):
        self.steps[name] = {"error": type(exc).__name__, "sqlstate": getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None), "message": str(exc)}


async def run_asyncpg(spec, out):
    import asyncpg

    conn = await asyncpg.connect(spec["url"])
    try:
        out.put("server_version", list(conn.get_server_version())[:2])
        g1, g2 = spec["group1"], spec["group2"]
        nss = g1 + g2

        # executemany: one Parse, then Bind/Execute per row in a pipeline, one Sync. Batches
        # of 10 rows (see run_asyncpg_pipeline for longer pipelines).
        rows = [(v["namespace"], v["key"], "value " + v["key"], v["text"]) for v in spec["vectors"]]
        for i in range(0, len(rows), 10):
            await conn.executemany(
                "INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ($1, $2, $3, $4::ruvector)", rows[i:i + 10]
            )
        out.put("count_after_executemany", await conn.fetchval(
            "SELECT count(*) FROM memory_entries WHERE namespace = ANY($1::text[])", nss))

        # Embeddings round-trip as text, cast and uncast.
        first = spec["vectors"][0]
        out.put("embedding_text", await conn.fetchval(
            "SELECT embedding::text FROM memory_entries WHERE namespace = $1 AND key = $2", first["namespace"], first["key"]))
        out.put("embedding_raw", await conn.fetchval(
            "SELECT embedding FROM memory_entries WHERE namespace = $1 AND key = $2", first["namespace"], first["key"]))

        # Vector search, single namespace and across namespaces.
        single = {}
        for qi, q in enumerate(spec["queries"]):
            for ns in nss:
                rows = await conn.fetch(SEARCH_ONE.format(q="$1", ns="$2"), q, ns)
                single[f"{qi}/{ns}"] = search_rows(rows)
        out.put("search_one", single)
        many = {}
        for qi, q in enumerate(spec["queries"]):
            many[str(qi)] = search_rows(await conn.fetch(SEARCH_MANY.format(q="$1", nss="$2::text[]"), q, nss))
        out.put("search_many", many)

        # Binary parameters of several types, binary results, a multi-shard merge by key.
        await conn.execute(
            "INSERT INTO memory_entries (namespace, key, value, tags, metadata) VALUES ($1, $2, $3, $4::text[], $5::jsonb)",
            g1[0], "typed", "x" * 5, ["a", "b c", 'd"e'], json.dumps({"n": 1, "ok": True}),
        )
        row = await conn.fetchrow(
            "SELECT tags, metadata::text AS metadata, length(value) AS len, created_at IS NOT NULL AS has_time, "
            "$3::int + 1 AS plus, $4::float8 * 2 AS twice, $5::bool AS flag "
            "FROM memory_entries WHERE namespace = $1 AND key = $2",
            g1[0], "typed", 41, 1.25, True,
        )
        out.put("typed_row", {k: row[k] for k in row.keys()})
        merged = await conn.fetch(
            "SELECT key, namespace, length(value) AS len FROM memory_entries "
            "WHERE namespace = ANY($1::text[]) AND key LIKE 'e%' ORDER BY key DESC, namespace LIMIT 25", nss)
        out.put("merged_desc", [[r["key"], r["namespace"], r["len"]] for r in merged])

        # A prepared statement, executed for namespaces on both groups.
        stmt = await conn.prepare("SELECT namespace, value FROM memory_entries WHERE namespace = $1 AND key = $2")
        prepared = []
        for v in spec["vectors"][::7]:
            r = await stmt.fetchrow(v["namespace"], v["key"])
            prepared.append([v["namespace"], v["key"], r["namespace"] if r else None, r["value"] if r else None])
        out.put("prepared", prepared)

        # Transactions over both groups.
        async with conn.transaction():
            await conn.execute("INSERT INTO memory_entries (namespace, key, value) VALUES ($1, 'tx', 'committed')", g1[0])
            await conn.execute("INSERT INTO memory_entries (namespace, key, value) VALUES ($1, 'tx', 'committed')", g2[0])
        try:
            async with conn.transaction():
                await conn.execute("INSERT INTO memory_entries (namespace, key, value) VALUES ($1, 'tx2', 'lost')", g1[0])
                await conn.execute("INSERT INTO memory_entries (namespace, key, value) VALUES ($1, 'tx2', 'lost')", g2[0])
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        out.put("tx_rows", [list(r) for r in await conn.fetch(
            "SELECT namespace, key, value FROM memory_entries WHERE namespace = ANY($1::text[]) AND key LIKE 'tx%' ORDER BY namespace, key",
            [g1[0], g2[0]])])

        # Errors and their SQLSTATEs; a failed block answers 25P02 until it ends.
        errors = {}
        for name, query, args in [
            ("unique", "INSERT INTO memory_entries (namespace, key) VALUES ($1, 'tx') /* unique */", [g1[0]]),
            ("undefined_table", "SELECT * FROM nowhere WHERE namespace = $1", [g1[0]]),
            ("division", "SELECT 1 / 0 FROM memory_entries WHERE namespace = $1", [g2[0]]),
            ("unsupported", "SELECT string_agg(key, ',') FROM memory_entries", []),
        ]:
            try:
                await conn.fetch(query, *args)
                errors[name] = None
            except asyncpg.PostgresError as e:
                errors[name] = e.sqlstate
        in_block = []
        tr = conn.transaction()
        await tr.start()
        try:
            await conn.execute("INSERT INTO memory_entries (namespace, key) VALUES ($1, 'tx') /* in block */", g2[0])
        except asyncpg.PostgresError as e:
            in_block.append(e.sqlstate)
        for query, args in [("SELECT 1", []), ("SELECT key FROM memory_entries WHERE namespace = $1", [g1[0]])]:
            try:
                await conn.fetch(query, *args)
                in_block.append(None)
            except asyncpg.PostgresError as e:
                in_block.append(e.sqlstate)
        await tr.rollback()
        in_block.append(await conn.fetchval("SELECT 42"))
        errors["in_failed_block"] = in_block
        out.put("errors", errors)

        # A cursor (portal with Execute row limits) inside a transaction.
        async with conn.transaction():
            keys = [r["key"] async for r in conn.cursor(
                "SELECT key FROM memory_entries WHERE namespace = ANY($1::text[]) AND key LIKE 'e%' ORDER BY key, namespace", nss, prefetch=7)]
            cur = await conn.cursor("SELECT key FROM memory_entries WHERE namespace = $1 AND key LIKE 'e%' ORDER BY key", g2[0])
            first3 = [r["key"] for r in await cur.fetch(3)]
            next2 = [r["key"] for r in await cur.fetch(2)]
        out.put("cursor_keys", keys)
        out.put("cursor_routed", {"first3": first3, "next2": next2})

        # Cursor.forward() sends MOVE FORWARD n <portal>: SQL on the protocol-level portal.
        try:
            async with conn.transaction():
                cur = await conn.cursor("SELECT key FROM memory_entries WHERE namespace = $1 AND key LIKE 'e%' ORDER BY key", g2[0])
                first = [r["key"] for r in await cur.fetch(1)]
                moved = await cur.forward(2)
                after = [r["key"] for r in await cur.fetch(2)]
            out.put("cursor_forward", {"first": first, "moved": moved, "after": after})
        except asyncpg.PostgresError as e:
            out.put("cursor_forward", {"sqlstate": e.sqlstate, "message": str(e)})

        # asyncpg's timeout sends a CancelRequest; the connection is usable afterwards.
        await conn.execute("INSERT INTO memory_entries (namespace, key) VALUES ($1, 'sleep')", g1[0])
        started = time.monotonic()
        try:
            await conn.fetch("SELECT pg_sleep(10) FROM memory_entries WHERE namespace = $1 AND key = 'sleep'", g1[0], timeout=1.0)
            out.put("timeout", {"error": None})
        except asyncio.TimeoutError:
            after = await conn.fetchval("SELECT 7")
            out.put("timeout", {"error": "TimeoutError", "after": after})
        out.put("timeout_seconds", time.monotonic() - started)
    finally:
        await conn.close()


async def run_asyncpg_pipeline(spec, out):
    """executemany as one pipeline: Bind/Execute for every row, then one Sync.

    PostgreSQL runs everything up to Sync in one implicit transaction: a failing row
    undoes the rows before it, and the pipeline needs one backend.
    """
    import asyncpg

    conn = await asyncpg.connect(spec["url"])
    try:
        ns = spec["group1"][0]
        atomic = [(ns, "a1", "x"), (ns, "a2", "x"), (ns, "a3", "x"), (ns, "a1", "duplicate"), (ns, "a5", "x")]
        try:
            await conn.executemany("INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)", atomic, timeout=10)
            out.put("atomic_error", None)
        except asyncpg.PostgresError as e:
            out.put("atomic_error", e.sqlstate)
        out.put("atomic_rows", await conn.fetchval(
            "SELECT count(*) FROM memory_entries WHERE namespace = $1 AND key LIKE 'a%'", ns))
        rows = [(ns, f"p{i:03d}", "x") for i in range(60)]
        started = time.monotonic()
        try:
            await conn.executemany("INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3) /* long */", rows, timeout=10)
            out.put("long_pipeline", {"error": None})
        except (asyncpg.PostgresError, asyncio.TimeoutError) as e:
            out.put("long_pipeline", {"error": type(e).__name__, "sqlstate": getattr(e, "sqlstate", None), "message": str(e)})
        out.put("long_pipeline_seconds", time.monotonic() - started)
        out.put("long_pipeline_rows", await conn.fetchval(
            "SELECT count(*) FROM memory_entries WHERE namespace = $1 AND key LIKE 'p%'", ns))

    finally:
        await conn.close()


def run_psycopg2(spec, out):
    import psycopg2
    import psycopg2.errors
    import psycopg2.extras

    conn = psycopg2.connect(spec["url"])
    try:
        g1, g2 = spec["group1"], spec["group2"]
        nss = g1 + g2
        cur = conn.cursor()

        # psycopg2 interpolates parameters itself: the simple protocol, in an implicit transaction.
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO memory_entries (namespace, key, value, embedding) VALUES %s",
            [(v["namespace"], v["key"], "value " + v["key"], v["text"]) for v in spec["vectors"]],
            template="(%s, %s, %s, %s::ruvector)",
            page_size=50,
        )
        conn.commit()
        cur.execute("SELECT count(*) FROM memory_entries WHERE namespace = ANY(%s)", (nss,))
        out.put("count_after_execute_values", cur.fetchone()[0])
        conn.commit()

        first = spec["vectors"][0]
        cur.execute("SELECT embedding::text FROM memory_entries WHERE namespace = %s AND key = %s", (first["namespace"], first["key"]))
        out.put("embedding_text", cur.fetchone()[0])

        single = {}
        for qi, q in enumerate(spec["queries"]):
            for ns in nss:
                cur.execute(SEARCH_ONE.format(q="%(q)s", ns="%(ns)s"), {"q": q, "ns": ns})
                single[f"{qi}/{ns}"] = search_rows(cur.fetchall())
        out.put("search_one", single)
        many = {}
        for qi, q in enumerate(spec["queries"]):
            cur.execute(SEARCH_MANY.format(q="%(q)s", nss="%(nss)s"), {"q": q, "nss": nss})
            many[str(qi)] = search_rows(cur.fetchall())
        out.put("search_many", many)
        conn.commit()

        # A transaction over both groups, then one rolled back.
        cur.execute("INSERT INTO memory_entries (namespace, key, value) VALUES (%s, 'tx', 'committed')", (g1[0],))
        cur.execute("INSERT INTO memory_entries (namespace, key, value) VALUES (%s, 'tx', 'committed')", (g2[0],))
        conn.commit()
        cur.execute("INSERT INTO memory_entries (namespace, key, value) VALUES (%s, 'tx2', 'lost')", (g1[0],))
        cur.execute("UPDATE memory_entries SET value = 'changed' WHERE namespace = %s AND key = 'tx'", (g2[0],))
        conn.rollback()
        cur.execute(
            "SELECT namespace, key, value FROM memory_entries WHERE namespace = ANY(%s) AND key LIKE 'tx%%' ORDER BY namespace, key",
            ([g1[0], g2[0]],),
        )
        out.put("tx_rows", [list(r) for r in cur.fetchall()])
        conn.commit()

        # Errors: SQLSTATE in pgcode; in a failed transaction everything is 25P02 until rollback.
        errors = {}
        for name, query, args in [
            ("unique", "INSERT INTO memory_entries (namespace, key) VALUES (%s, 'tx')", (g1[0],)),
            ("undefined_table", "SELECT * FROM nowhere", None),
            ("division", "SELECT 1 / 0 FROM memory_entries WHERE namespace = %s", (g2[0],)),
        ]:
            try:
                cur.execute(query, args)
                errors[name] = None
            except psycopg2.Error as e:
                errors[name] = e.pgcode
                try:
                    cur.execute("SELECT 1")
                    errors[name + "_then"] = None
                except psycopg2.Error as e2:
                    errors[name + "_then"] = e2.pgcode
                conn.rollback()
        out.put("errors", errors)

        # Autocommit: several statements in one execute (one Query message).
        conn.autocommit = True
        cur.execute(
            "INSERT INTO memory_entries (namespace, key, value) VALUES (%s, 'multi', '1'); "
            "UPDATE memory_entries SET value = value || '2' WHERE namespace = %s AND key = 'multi'; "
            "SELECT value FROM memory_entries WHERE namespace = %s AND key = 'multi'",
            (g2[0], g2[0], g2[0]),
        )
        out.put("multi_statement", cur.fetchall())

        # A server-side (named) cursor: DECLARE ... CURSOR and FETCH.
        conn.autocommit = False
        try:
            named = conn.cursor(name="big")
            named.itersize = 3
            named.execute("SELECT key FROM memory_entries WHERE namespace = %s AND key LIKE 'e%%' ORDER BY key", (g1[0],))
            out.put("named_cursor", {"rows": [r[0] for r in named]})
            named.close()
            conn.commit()
        except psycopg2.Error as e:
            out.put("named_cursor", {"sqlstate": e.pgcode, "message": str(e).strip()})
            conn.rollback()
    finally:
        conn.close()


def main():
    client = sys.argv[1]
    spec = json.load(sys.stdin)
    out = Recorder()
    try:
        if client == "asyncpg":
            asyncio.run(run_asyncpg(spec, out))
        elif client == "asyncpg-pipeline":
            asyncio.run(run_asyncpg_pipeline(spec, out))
        elif client == "psycopg2":
            run_psycopg2(spec, out)
        else:
            raise SystemExit(f"unknown client {client}")
    except Exception as e:  # reported to the test, which fails with it
        out.put("fatal", traceback.format_exc())
        out.error("fatal_error", e)
    json.dump(out.steps, sys.stdout, default=str)


if __name__ == "__main__":
    main()
