-- description: Adult education events (Norwegian tuition, primary and upper secondary for adults) as they stood on as_of, one row per event_id: of several copies, the one in the first delivery counts (see stg_delivery).
-- unique: event_id
-- not_null: event_id, person_id, event, event_date, level, school_orgnr
-- source: adult_education
with source as (
    select * from raw.adult_education_event
),

first_delivered as (
    select s.*
    from source s
    inner join staging.stg_delivery d on s.source_sha256 = d.sha256 and s.source_file = d.file_name
    qualify row_number() over (partition by s.event_id order by d.delivery_order, s.row_number) = 1
),

renamed as (
    select
        event_id,
        pid as person_id,
        event,
        date as event_date,
        level,
        programme,
        school_orgnr,
        municipality as municipality_code,
        result,
        source_file,
        row_number as source_row,
        delivery_date
    from first_delivered
),

final as (
    select * from renamed
    where event_date <= getvariable('as_of')::date
)

select * from final
