-- description: Combination-class pupils as the newest delivery for each school and school year lists them (snapshot semantics: a newer list replaces an older one completely).
-- unique: school_orgnr, school_year, person_id, applied_date
-- not_null: person_id, school_orgnr, school_year, applied_date, status
with source as (
    select * from raw.combination_class_row
),

deliveries as (
    select sha256, snapshot_key, delivery_date, first_seen_at, file_name
    from audit.file_log
    where source = 'combination_classes' and status in ('loaded', 'superseded')
),

newest_delivery as (
    select arg_max(sha256, delivery_date::varchar || first_seen_at::varchar || file_name) as sha256
    from deliveries
    group by snapshot_key
),

renamed as (
    select
        elev_pid       as person_id,
        kjonn          as sex,
        fodselsaar     as birth_year,
        bostedskommune as municipality_code,
        soknadsdato    as applied_date,
        startdato      as start_date,
        sluttdato      as end_date,
        status,
        school_orgnr,
        school_year,
        source_file,
        row_number     as source_row,
        delivery_date
    from source
    where source_sha256 in (select sha256 from newest_delivery)
)

select * from renamed
