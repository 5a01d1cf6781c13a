-- description: Adult education events (Norwegian tuition, primary and upper secondary for adults), one row per event_id.
-- unique: event_id
-- not_null: event_id, person_id, event, event_date, level, school_orgnr
with source as (
    select * from raw.adult_education_event
),

renamed as (
    select
        event_id,
        pid          as person_id,
        event,
        date         as event_date,
        level,
        programme,
        school_orgnr,
        municipality as municipality_code,
        result,
        source_file,
        row_number   as source_row,
        delivery_date
    from source
)

select * from renamed
