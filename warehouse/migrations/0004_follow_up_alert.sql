-- Migration 0004 (issue 15): what each published build announced to the follow-up service,
-- compared with the build before it. Counts only (per municipality and school in `counts`,
-- JSON): never a person. Written into the candidate before it is published, so the record
-- and the build it describes are published together.
CREATE TABLE IF NOT EXISTS audit.follow_up_alert (
    build_id VARCHAR, created_at TIMESTAMPTZ, as_of DATE,
    new_dropouts BIGINT, new_crossed BIGINT, overdue_deliveries BIGINT,
    counts VARCHAR, message VARCHAR
);
