-- description: Trøndelag-model events as they stood on as_of, as the newest export of each case holds them (see stg_delivery for "newest"). The newest export of a case wins even where some or all of its rows were quarantined: an event missing from it was withdrawn as a registration error and does not come back from an older export; its quarantined rows wait for a corrected export. A whole case missing from a newer export that had to list it (every export holds the open cases and those closed in the last 24 months) was withdrawn too, e.g. renumbered under a new case id; to stay on the safe side a closed case counts as due only for exports within 23 months of its last event.
-- unique: case_id, event_index
-- not_null: case_id, person_id, event_type, event_date
-- source: trondelag_model
-- shared_key: case_id
with source as (
    select * from raw.trondelag_model_event
),

listed as (
    select c.case_id, c.source_file, c.source_sha256, d.delivery_order
    from raw.trondelag_model_case c
    inner join staging.stg_delivery d on c.source_sha256 = d.sha256 and c.source_file = d.file_name
),

newest_export as (
    select case_id, arg_max(source_sha256, delivery_order) as sha256, arg_max(source_file, delivery_order) as file_name
    from listed
    group by case_id
),

exports as (
    select file_name, sha256, delivery_date, delivery_order
    from staging.stg_delivery
    where source = 'trondelag_model'
),

newest_state as (
    -- open, or when it closed, as the case's newest export says
    select
        n.case_id, d.delivery_order,
        count(*) filter (where s.type in ('employed', 'left_programme')) = 0 as still_open,
        max(s.date) as last_event
    from newest_export n
    inner join exports d on n.sha256 = d.sha256 and n.file_name = d.file_name
    left join source s on n.case_id = s.case_id and n.sha256 = s.source_sha256 and n.file_name = s.source_file
    group by all
),

withdrawn_cases as (
    select c.case_id
    from newest_state c
    where exists (
        select 1 from exports x
        where
            x.delivery_order > c.delivery_order
            and (c.still_open or x.delivery_date < c.last_event + interval 23 months)
    )
),

renamed as (
    select
        s.case_id,
        s.pid as person_id,
        s.nav_office as municipality_code,
        s.mobilised_by,
        s.event_index,
        s.type as event_type,
        s.date as event_date,
        s.trade,
        s.sector,
        s.reason,
        s.source_file,
        s.row_number as source_row,
        s.delivery_date
    from source s
    inner join newest_export n on s.case_id = n.case_id and s.source_sha256 = n.sha256 and s.source_file = n.file_name
    where s.case_id not in (select w.case_id from withdrawn_cases w)
),

final as (
    select * from renamed
    where event_date <= getvariable('as_of')::date
)

select * from final
