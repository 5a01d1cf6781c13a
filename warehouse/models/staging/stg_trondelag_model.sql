-- description: Trøndelag-model events as they stood on as_of, as the newest export of each case holds them (see stg_delivery for "newest"). The newest export of a case wins even where some or all of its rows were quarantined: an event missing from it was withdrawn as a registration error and does not come back from an older export; its quarantined rows wait for a corrected export.
-- unique: case_id, event_index
-- not_null: case_id, person_id, event_type, event_date
with source as (
    select * from raw.trondelag_model_event
),

listed as (
    select c.case_id, c.source_file, c.source_sha256, d.delivery_order
    from raw.trondelag_model_case c
    join staging.stg_delivery d on d.sha256 = c.source_sha256 and d.file_name = c.source_file
),

newest_export as (
    select case_id, arg_max(source_sha256, delivery_order) as sha256, arg_max(source_file, delivery_order) as file_name
    from listed
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
    join newest_export n on n.case_id = s.case_id and n.sha256 = s.source_sha256 and n.file_name = s.source_file
),

final as (
    select * from renamed
    where event_date <= getvariable('as_of')::date
)

select * from final
