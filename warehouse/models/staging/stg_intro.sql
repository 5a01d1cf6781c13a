-- description: Introduction programme events as they stood on as_of, one row per distinct event (pid, event, date): of several copies, the one in the first delivery counts (the delivery date in the file name decides, see stg_delivery), renamed to English.
-- unique: person_id, event, event_date
-- not_null: person_id, event, event_date, municipality_code
-- source: intro
with source as (
    select * from raw.intro_event
),

first_delivered as (
    select s.*
    from source s
    inner join staging.stg_delivery d on s.source_sha256 = d.sha256 and s.source_file = d.file_name
    qualify row_number() over (
        partition by s.deltaker_pid, s.hendelse, s.dato
        order by d.delivery_order, s.row_number
    ) = 1
),

renamed as (
    select
        deltaker_pid as person_id,
        kommunenr as municipality_code,
        hendelse as event,
        dato as event_date,
        kjonn as sex,
        fodselsaar as birth_year,
        landbakgrunn as country_background,
        innvandringsgrunn as immigration_reason,
        detalj as detail,
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
