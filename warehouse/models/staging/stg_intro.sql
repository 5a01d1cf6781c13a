-- description: Introduction programme events, one row per distinct event (duplicates were counted, not loaded, at staging), renamed to English.
-- unique: person_id, event, event_date
-- not_null: person_id, event, event_date, municipality_code
with source as (
    select * from raw.intro_event
),

renamed as (
    select
        deltaker_pid      as person_id,
        kommunenr         as municipality_code,
        hendelse          as event,
        dato              as event_date,
        kjonn             as sex,
        fodselsaar        as birth_year,
        landbakgrunn      as country_background,
        innvandringsgrunn as immigration_reason,
        detalj            as detail,
        source_file,
        row_number        as source_row,
        delivery_date
    from source
)

select * from renamed
