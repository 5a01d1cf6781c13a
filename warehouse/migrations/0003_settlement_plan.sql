-- Migration 0003: the fifth source, settlement plans (source contract §5, issue 14).
-- One row per valid row of a `settlement_plan/bosetting_<YYYYMMDD>.csv` delivery, typed,
-- with its lineage. Which delivery is in force for a (kommunenr, aar) is decided in
-- staging (the newest delivery wins), not here.
CREATE TABLE IF NOT EXISTS raw.settlement_plan_row (
    kommunenr VARCHAR, aar INTEGER, anmodet INTEGER, vedtatt INTEGER, herav_ema INTEGER,
    source_file VARCHAR, source_sha256 VARCHAR, row_number BIGINT, delivery_date DATE
);
