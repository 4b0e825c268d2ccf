-- ruvector 0.1.0: the RuVector SQL surface of the seed design, served by pgvector.
--
-- No vector code lives here. MODULE_PATHNAME is '$libdir/vector' (see
-- ruvector.control), so every C function below is a second SQL declaration of a
-- pgvector symbol. A ruvector datum has exactly pgvector's on-disk and wire layout,
-- which is what makes the binary-coercible casts below sound.
--
-- Not supported on purpose: the seed's CREATE INDEX ... WITH (ef_search = 100).
-- ef_search is not an hnsw reloption in pgvector; it is the run-time setting
-- hnsw.ef_search, which the layer that issues the DDL has to translate.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION ruvector" to load this file. \quit

-- ruvector type --------------------------------------------------------------

CREATE TYPE ruvector;

-- pgvector's I/O functions ignore the type OID argument and enforce the typmod
-- (dimension count) themselves, so they serve ruvector unchanged.
CREATE FUNCTION ruvector_in(cstring, oid, integer) RETURNS ruvector
	AS 'MODULE_PATHNAME', 'vector_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION ruvector_out(ruvector) RETURNS cstring
	AS 'MODULE_PATHNAME', 'vector_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION ruvector_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME', 'vector_typmod_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION ruvector_recv(internal, oid, integer) RETURNS ruvector
	AS 'MODULE_PATHNAME', 'vector_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION ruvector_send(ruvector) RETURNS bytea
	AS 'MODULE_PATHNAME', 'vector_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Same physical representation as pgvector's vector (pg_type: typlen -1,
-- typalign 'i', typstorage 'e', category 'U').
CREATE TYPE ruvector (
	INPUT          = ruvector_in,
	OUTPUT         = ruvector_out,
	TYPMOD_IN      = ruvector_typmod_in,
	RECEIVE        = ruvector_recv,
	SEND           = ruvector_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT      = int4,
	STORAGE        = external,
	CATEGORY       = 'U'
);

-- cast functions -------------------------------------------------------------

-- Length coercion: pgvector's vector(vector, integer, boolean) checks the
-- dimension count against the typmod and returns its argument.
CREATE FUNCTION ruvector(ruvector, integer, boolean) RETURNS ruvector
	AS 'MODULE_PATHNAME', 'vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_ruvector(integer[], integer, boolean) RETURNS ruvector
	AS 'MODULE_PATHNAME', 'array_to_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_ruvector(real[], integer, boolean) RETURNS ruvector
	AS 'MODULE_PATHNAME', 'array_to_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_ruvector(double precision[], integer, boolean) RETURNS ruvector
	AS 'MODULE_PATHNAME', 'array_to_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_ruvector(numeric[], integer, boolean) RETURNS ruvector
	AS 'MODULE_PATHNAME', 'array_to_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION ruvector_to_float4(ruvector, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME', 'vector_to_float4' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- casts ----------------------------------------------------------------------

-- ruvector -> vector must be binary-coercible AND implicit: that is what lets
-- (1) pgvector's operators (vector, vector) resolve for ruvector arguments, so
--     this extension defines no operators of its own, and
-- (2) CREATE INDEX accept a vector opclass on a ruvector column
--     (PostgreSQL's IsBinaryCoercible() only counts implicit binary casts).
CREATE CAST (ruvector AS vector) WITHOUT FUNCTION AS IMPLICIT;

-- Assignment only, so an expression of type vector never silently becomes a
-- ruvector during operator resolution (which would make <=> ambiguous).
CREATE CAST (vector AS ruvector) WITHOUT FUNCTION AS ASSIGNMENT;

CREATE CAST (ruvector AS ruvector)
	WITH FUNCTION ruvector(ruvector, integer, boolean) AS IMPLICIT;

CREATE CAST (integer[] AS ruvector)
	WITH FUNCTION array_to_ruvector(integer[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (real[] AS ruvector)
	WITH FUNCTION array_to_ruvector(real[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (double precision[] AS ruvector)
	WITH FUNCTION array_to_ruvector(double precision[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (numeric[] AS ruvector)
	WITH FUNCTION array_to_ruvector(numeric[], integer, boolean) AS ASSIGNMENT;

-- pgvector makes vector -> real[] implicit; for ruvector that would give every
-- operator a second route (ruvector -> real[] -> array operators) next to
-- ruvector -> vector, and e.g. ruvector = ruvector would become ambiguous.
CREATE CAST (ruvector AS real[])
	WITH FUNCTION ruvector_to_float4(ruvector, integer, boolean) AS ASSIGNMENT;

-- Text: PostgreSQL's automatic I/O conversion casts already give
-- text::ruvector (explicit) and ruvector::text, through ruvector_in/_out.

-- hnsw operator classes --------------------------------------------------------

-- Declared FOR TYPE vector, mirroring pgvector's vector_*_ops for hnsw: the same
-- operators and support functions. They serve vector columns directly and
-- ruvector columns through the implicit binary cast above.

CREATE OPERATOR CLASS ruvector_l2_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector);

CREATE OPERATOR CLASS ruvector_ip_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector);

CREATE OPERATOR CLASS ruvector_cosine_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector),
	FUNCTION 2 vector_norm(vector);
