-- description: Trøndelag-model events as the newest export of each case holds them (an event missing from a newer export of the case was withdrawn).
-- unique: case_id, event_index
-- not_null: case_id, person_id, event_type, event_date
with source as (
    select * from raw.trondelag_model_event
),

newest_export as (
    select case_id, arg_max(source_sha256, delivery_date::varchar || source_file) as sha256
    from source
    group by case_id
),

renamed as (
    select
        s.case_id,
        s.pid          as person_id,
        s.nav_office   as municipality_code,
        s.mobilised_by,
        s.event_index,
        s.type         as event_type,
        s.date         as event_date,
        s.trade,
        s.sector,
        s.reason,
        s.source_file,
        s.row_number   as source_row,
        s.delivery_date
    from source s
    join newest_export n on n.case_id = s.case_id and n.sha256 = s.source_sha256
)

select * from renamed
