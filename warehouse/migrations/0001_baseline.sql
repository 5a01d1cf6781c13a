-- Migration 0001: the schema as released in 0.1.0 (until issue 12 this was ddl.sql).
-- Tables the loader writes (raw.*: validated, typed rows exactly as delivered, with their
-- lineage) and the bookkeeping every load appends to (audit.*, meta.*). Everything else in
-- the warehouse is built from these by the SQL models under models/.
-- Written with IF NOT EXISTS, so it applies both to an empty candidate and to a warehouse
-- built before migrations were recorded (which has these tables already). Never edit an
-- applied migration: add the next number (see warehouse/migrate.py).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS meta;

CREATE TABLE IF NOT EXISTS raw.intro_event (
    deltaker_pid VARCHAR, kommunenr VARCHAR, hendelse VARCHAR, dato DATE, kjonn VARCHAR,
    fodselsaar INTEGER, landbakgrunn VARCHAR, innvandringsgrunn VARCHAR, detalj VARCHAR,
    source_file VARCHAR, source_sha256 VARCHAR, row_number BIGINT, delivery_date DATE
);
CREATE TABLE IF NOT EXISTS raw.adult_education_event (
    event_id VARCHAR, pid VARCHAR, event VARCHAR, date DATE, level VARCHAR, programme VARCHAR,
    school_orgnr VARCHAR, municipality VARCHAR, result VARCHAR,
    source_file VARCHAR, source_sha256 VARCHAR, row_number BIGINT, delivery_date DATE
);
CREATE TABLE IF NOT EXISTS raw.combination_class_row (
    elev_pid VARCHAR, kjonn VARCHAR, fodselsaar INTEGER, bostedskommune VARCHAR,
    soknadsdato DATE, startdato DATE, sluttdato DATE, status VARCHAR,
    school_orgnr VARCHAR, school_year VARCHAR,
    source_file VARCHAR, source_sha256 VARCHAR, row_number BIGINT, delivery_date DATE
);
CREATE TABLE IF NOT EXISTS raw.trondelag_model_event (
    case_id VARCHAR, pid VARCHAR, nav_office VARCHAR, mobilised_by VARCHAR, event_index INTEGER,
    type VARCHAR, date DATE, trade VARCHAR, sector VARCHAR, reason VARCHAR, exported_at TIMESTAMPTZ,
    source_file VARCHAR, source_sha256 VARCHAR, row_number BIGINT, delivery_date DATE
);
-- Every case an export lists, also a case whose rows were all quarantined: the newest
-- export of a case wins even then (its older rows must not come back).
CREATE TABLE IF NOT EXISTS raw.trondelag_model_case (
    case_id VARCHAR, source_file VARCHAR, source_sha256 VARCHAR, delivery_date DATE
);
-- Warehouses loaded before the table existed: the cases their exports held rows for.
INSERT INTO raw.trondelag_model_case
SELECT DISTINCT case_id, source_file, source_sha256, delivery_date FROM raw.trondelag_model_event
WHERE NOT EXISTS (SELECT 1 FROM raw.trondelag_model_case);

-- One row per landing file seen, recognised by its SHA-256 and name (the same bytes under a
-- second name get their own row, with every row counted as a duplicate).
CREATE TABLE IF NOT EXISTS audit.file_log (
    file_name VARCHAR, source VARCHAR, sha256 VARCHAR, first_seen_at TIMESTAMPTZ,
    status VARCHAR, rows_read BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT,
    rows_duplicate BIGINT, message VARCHAR,
    delivery_date DATE, snapshot_key VARCHAR, load_id VARCHAR
);
-- When the file arrived in the landing zone (its inode change time): orders deliveries
-- with the same delivery date that were first seen by the same load.
ALTER TABLE audit.file_log ADD COLUMN IF NOT EXISTS arrived_at TIMESTAMPTZ;
-- One row per rejected row (or per refused file, with row_number null).
CREATE TABLE IF NOT EXISTS audit.quarantine (
    file_name VARCHAR, row_number BIGINT, column_name VARCHAR, rule VARCHAR, message VARCHAR,
    source VARCHAR, sha256 VARCHAR, load_id VARCHAR
);
-- Landing-zone entries a load did not read (links, special files, sub-folders, unknown or
-- mis-cased folders, files in the root, files still being written), one row per entry per
-- load: action refused | waiting | ignored (issue 10; see flows/landing.py).
CREATE TABLE IF NOT EXISTS audit.landing_anomaly (
    load_id VARCHAR, seen_at TIMESTAMPTZ, path VARCHAR, kind VARCHAR, action VARCHAR, message VARCHAR
);
-- Files that failed to read with an operating-system error, by loads in a row (the file is
-- refused once PATHWAYS_MAX_READ_ATTEMPTS is reached). Replaced by every load.
CREATE TABLE IF NOT EXISTS audit.read_failure (
    source VARCHAR, file_name VARCHAR, failures INTEGER, last_load_id VARCHAR, last_failed_at TIMESTAMPTZ
);
-- One row per load attempt, published or not (meta.build holds the published ones).
CREATE TABLE IF NOT EXISTS audit.load_run (
    load_id VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, as_of DATE,
    files_seen BIGINT, files_new BIGINT, files_loaded BIGINT, files_refused BIGINT,
    rows_loaded BIGINT, rows_quarantined BIGINT, rows_duplicate BIGINT, outcome VARCHAR, message VARCHAR
);
-- One row per published build.
CREATE TABLE IF NOT EXISTS meta.build (
    build_id VARCHAR, as_of DATE, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    files_loaded BIGINT, events BIGINT, persons BIGINT, code_version VARCHAR
);
